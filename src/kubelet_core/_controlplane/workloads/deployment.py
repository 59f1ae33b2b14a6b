"""The Deployment controller: ReplicaSets per template, rolled over as the strategy says.

The new ReplicaSet is the one whose template equals the Deployment's (ignoring the
``pod-template-hash`` label); it is created as ``<name>-<hash>`` with the next
``deployment.kubernetes.io/revision`` (an old one becoming new again, as after
``kubectl rollout undo``, gets the next revision too). RollingUpdate scales the new set up
while all sets stay within ``replicas + maxSurge`` pods and scales old sets down while at
least ``replicas - maxUnavailable`` pods are available (unhealthy old pods go first);
Recreate scales old sets to zero and waits for their pods to go before scaling up. A
paused Deployment only scales. Once complete, old sets beyond ``revisionHistoryLimit``
are deleted. Conditions and reasons are kube's: Available (MinimumReplicasAvailable /
MinimumReplicasUnavailable) and Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
DeploymentResumed).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import DEPLOYMENTS, PODS, REPLICASETS
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    controller_ref,
    key_of,
    owner_keys,
    owner_reference,
)
from kubelet_core._controlplane.workloads.podutil import (
    is_active,
    replicas_of,
    selector_matches,
    template_hash,
)

KubeObject = dict[str, Any]
HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = (
    REVISION,
    DESIRED,
    MAX,
    "deployment.kubernetes.io/revision-history",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: ints as they are, "25%" of ``total``."""
    if isinstance(value, int):
        return value
    text = str(value or "0")
    if text.endswith("%"):
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def surge_and_unavailable(d: KubeObject) -> tuple[int, int]:
    spec = d.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = replicas_of(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # kube's ResolveFenceposts: never stuck with both zero
    return surge, unavailable


def _template_without_hash(template: KubeObject) -> KubeObject:
    template = copy.deepcopy(template)
    meta = template.get("metadata") or {}
    labels = meta.get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH, None)
    if isinstance(meta, dict) and meta.get("creationTimestamp") is None:
        meta.pop("creationTimestamp", None)
    return template


def revision(rs: KubeObject) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _status_replicas(rs: KubeObject, field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


class DeploymentController(WorkloadController):
    name = "deployment-controller"
    kind = DEPLOYMENTS

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is DEPLOYMENTS:
            yield key_of(event.obj)
        elif event.rt is REPLICASETS:
            yield from owner_keys(event, "Deployment")
        elif event.rt is PODS and event.type == "DELETED":
            # Recreate waits for old pods to be gone: their RS's owner looks again.
            for ns, rs_name in owner_keys(event, "ReplicaSet"):
                rs = self.store.get(REPLICASETS, ns, rs_name)
                if rs is not None:
                    yield from owner_keys(
                        Event("MODIFIED", 0, REPLICASETS, rs.obj, rs.data, None), "Deployment"
                    )

    async def reconcile(self, key: Key) -> None:
        d = self.get(DEPLOYMENTS, key)
        if d is None:
            return
        sets = await self._claim(d)
        if d["metadata"].get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        new, olds = self._split(d, sets)
        if spec.get("paused"):
            if new is not None:
                await self._scale(d, new, replicas_of(d))
            await self._sync_status(d, new, olds)
            return
        if new is None:
            new = await self._create_new(d, sets)
            olds = [s for s in sets if s is not new]
        else:
            new = await self._sync_revision(d, new, olds)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            await self._recreate(d, new, olds)
        else:
            await self._rolling(d, new, olds)
        new = self.get(REPLICASETS, key_of(new)) or new
        olds = [self.get(REPLICASETS, key_of(o)) or o for o in olds]
        if self._complete(d, new, olds):
            await self._cleanup(d, olds)
        await self._sync_status(d, new, olds)

    # -- the sets ----------------------------------------------------------------------
    async def _claim(self, d: KubeObject) -> list[KubeObject]:
        selector = (d.get("spec") or {}).get("selector")
        sets = [
            s
            for s in self.owned(REPLICASETS, d)
            if selector_matches(selector, s["metadata"].get("labels"))
        ]
        if d["metadata"].get("deletionTimestamp"):
            return sets
        for entry in list(self.store.entries(REPLICASETS, d["metadata"]["namespace"])):
            rs = entry.obj
            if controller_ref(rs) is None and selector_matches(
                selector, rs["metadata"].get("labels")
            ):
                meta = dict(
                    rs["metadata"],
                    ownerReferences=[
                        *(rs["metadata"].get("ownerReferences") or []),
                        owner_reference(d, DEPLOYMENTS),
                    ],
                )
                sets.append(await self._update_rs(dict(rs, metadata=meta)))
        return sets

    def _split(
        self, d: KubeObject, sets: list[KubeObject]
    ) -> tuple[KubeObject | None, list[KubeObject]]:
        wanted = _template_without_hash((d.get("spec") or {}).get("template") or {})
        matching = [
            s
            for s in sets
            if _template_without_hash((s.get("spec") or {}).get("template") or {}) == wanted
        ]
        new = min(matching, key=lambda s: s["metadata"].get("creationTimestamp", ""), default=None)
        return new, [s for s in sets if s is not new]

    def _annotations(self, d: KubeObject, rs_annotations: KubeObject, rev: int) -> KubeObject:
        surge, _ = surge_and_unavailable(d)
        out = {k: v for k, v in rs_annotations.items()}
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k not in _NOT_COPIED:
                out[k] = v
        out[REVISION] = str(rev)
        out[DESIRED] = str(replicas_of(d))
        out[MAX] = str(replicas_of(d) + surge)
        return out

    async def _create_new(self, d: KubeObject, sets: list[KubeObject]) -> KubeObject:
        spec = d.get("spec") or {}
        meta = d["metadata"]
        ns = meta["namespace"]
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = template_hash(template, collisions)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = dict(tmeta.get("labels") or {}, **{HASH: pod_hash})
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH: pod_hash})
        rev = max((revision(s) for s in sets), default=0) + 1
        replicas = self._initial_replicas(d, sets)
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": ns,
                "labels": dict(tmeta["labels"]),
                "annotations": self._annotations(d, {}, rev),
                "ownerReferences": [owner_reference(d, DEPLOYMENTS)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            rs = await self.registry.create(REPLICASETS, ns, body)
        except ApiError as exc:
            if exc.code != 409:
                raise
            # A set of that name that is not ours: count the collision, hash again.
            status = dict(d.get("status") or {}, collisionCount=collisions + 1)
            await self.write_status(DEPLOYMENTS, d, status)
            raise
        if replicas > 0:
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas}",
            )
        await self._set_condition(
            d,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{rs["metadata"]["name"]}"',
        )
        return rs

    def _initial_replicas(self, d: KubeObject, sets: list[KubeObject]) -> int:
        want = replicas_of(d)
        if (d.get("spec") or {}).get("strategy", {}).get("type") == "Recreate":
            return 0 if any(replicas_of(s, 0) for s in sets) else want
        surge, _ = surge_and_unavailable(d)
        current = sum(replicas_of(s, 0) for s in sets)
        return max(0, min(want, want + surge - current))

    async def _sync_revision(
        self, d: KubeObject, new: KubeObject, olds: list[KubeObject]
    ) -> KubeObject:
        top = max((revision(s) for s in olds), default=0)
        rev = revision(new) if revision(new) > top else top + 1
        annotations = self._annotations(d, new["metadata"].get("annotations") or {}, rev)
        if rev != revision(new):
            old_rev = revision(new)
            history = [
                h
                for h in annotations.get("deployment.kubernetes.io/revision-history", "").split(",")
                if h
            ]
            if old_rev:
                history.append(str(old_rev))
                annotations["deployment.kubernetes.io/revision-history"] = ",".join(history)
        spec = new.get("spec") or {}
        min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
        if (
            annotations != (new["metadata"].get("annotations") or {})
            or int(spec.get("minReadySeconds") or 0) != min_ready
        ):
            new = await self._update_rs(
                dict(
                    new,
                    metadata=dict(new["metadata"], annotations=annotations),
                    spec=dict(spec, minReadySeconds=min_ready),
                )
            )
        return new

    async def _update_rs(self, rs: KubeObject) -> KubeObject:
        meta = rs["metadata"]
        return await self.registry.update(REPLICASETS, meta["namespace"], meta["name"], rs)

    async def _scale(self, d: KubeObject, rs: KubeObject, replicas: int) -> KubeObject:
        current = replicas_of(rs, 0)
        if current == replicas:
            return rs
        # Only the replica annotations: an old set keeps the annotations of its time.
        surge, _ = surge_and_unavailable(d)
        annotations = dict(
            rs["metadata"].get("annotations") or {},
            **{DESIRED: str(replicas_of(d)), MAX: str(replicas_of(d) + surge)},
        )
        updated = await self._update_rs(
            dict(
                rs,
                metadata=dict(rs["metadata"], annotations=annotations),
                spec=dict(rs.get("spec") or {}, replicas=replicas),
            )
        )
        direction = "up" if replicas > current else "down"
        self.event(
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {replicas}",
        )
        return updated

    # -- strategies --------------------------------------------------------------------
    async def _recreate(self, d: KubeObject, new: KubeObject, olds: list[KubeObject]) -> None:
        for rs in olds:
            await self._scale(d, rs, 0)
        old_pods = [
            p
            for rs in olds
            for p in self.owned(PODS, rs)
            if is_active(p) or p["metadata"].get("deletionTimestamp")
        ]
        if not old_pods:
            await self._scale(d, new, replicas_of(d))

    async def _rolling(self, d: KubeObject, new: KubeObject, olds: list[KubeObject]) -> None:
        want = replicas_of(d)
        surge, max_unavailable = surge_and_unavailable(d)
        new_count = replicas_of(new, 0)
        if new_count > want:
            new = await self._scale(d, new, want)
        elif new_count < want:
            total = sum(replicas_of(s, 0) for s in [new, *olds])
            room = want + surge - total
            if room > 0:
                new = await self._scale(d, new, new_count + min(room, want - new_count))
        active_olds = [o for o in olds if replicas_of(o, 0) > 0]
        if not active_olds:
            return
        all_count = sum(replicas_of(s, 0) for s in [new, *olds])
        min_available = want - max_unavailable
        new_unavailable = replicas_of(new, 0) - _status_replicas(new, "availableReplicas")
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return
        # Unhealthy old pods first: they do not count as available anyway.
        olds_sorted = sorted(active_olds, key=lambda s: s["metadata"].get("creationTimestamp", ""))
        for i, rs in enumerate(olds_sorted):
            if budget <= 0:
                break
            unhealthy = replicas_of(rs, 0) - _status_replicas(rs, "availableReplicas")
            cut = min(budget, max(0, unhealthy))
            if cut:
                olds_sorted[i] = await self._scale(d, rs, replicas_of(rs, 0) - cut)
                budget -= cut
        available = sum(_status_replicas(s, "availableReplicas") for s in [new, *olds])
        budget = available - min_available
        for rs in olds_sorted:
            if budget <= 0:
                break
            cut = min(budget, replicas_of(rs, 0))
            if cut:
                await self._scale(d, rs, replicas_of(rs, 0) - cut)
                budget -= cut

    def _complete(self, d: KubeObject, new: KubeObject, olds: list[KubeObject]) -> bool:
        want = replicas_of(d)
        return (
            _status_replicas(new, "replicas") == want
            and replicas_of(new, 0) == want
            and _status_replicas(new, "availableReplicas") >= want
            and not any(_status_replicas(o, "replicas") or replicas_of(o, 0) for o in olds)
        )

    async def _cleanup(self, d: KubeObject, olds: list[KubeObject]) -> None:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [o for o in olds if not replicas_of(o, 0) and not _status_replicas(o, "replicas")]
        idle.sort(key=revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            meta = rs["metadata"]
            try:
                await self.registry.delete(
                    REPLICASETS, meta["namespace"], meta["name"], DeleteOptions()
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise

    # -- status ------------------------------------------------------------------------
    async def _set_condition(
        self, d: KubeObject, type_: str, status: str, reason: str, message: str
    ) -> None:
        current = self.get(DEPLOYMENTS, key_of(d)) or d
        st = dict(current.get("status") or {})
        st["conditions"] = self._with_condition(st, type_, status, reason, message)
        await self.write_status(DEPLOYMENTS, current, st)

    def _with_condition(
        self,
        st: KubeObject,
        type_: str,
        status: str,
        reason: str,
        message: str,
        *,
        touch: bool = False,
    ) -> list[KubeObject]:
        """The conditions with ``type_`` set; ``touch`` records progress (lastUpdateTime)."""
        stamp = self.clock.stamp()
        conditions = list(st.get("conditions") or [])
        old = next((c for c in conditions if c.get("type") == type_), None)
        if old is not None and old.get("status") == status and old.get("reason") == reason:
            if old.get("message") == message and not touch:
                return conditions
            new = dict(old, message=message, lastUpdateTime=stamp)
        else:
            new = {
                "type": type_,
                "status": status,
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp
                if old is None or old.get("status") != status
                else old.get("lastTransitionTime", stamp),
                "reason": reason,
                "message": message,
            }
        if old is not None and old == new:
            return conditions
        conditions = [c for c in conditions if c.get("type") != type_]
        conditions.append(new)
        conditions.sort(key=lambda c: 0 if c.get("type") == "Available" else 1)
        return conditions

    async def _sync_status(
        self, d: KubeObject, new: KubeObject | None, olds: list[KubeObject]
    ) -> None:
        d = self.get(DEPLOYMENTS, key_of(d)) or d
        want = replicas_of(d)
        sets = [s for s in [new, *olds] if s is not None]
        replicas = sum(_status_replicas(s, "replicas") for s in sets)
        available = sum(_status_replicas(s, "availableReplicas") for s in sets)
        st: KubeObject = {
            k: v
            for k, v in (d.get("status") or {}).items()
            if k in ("conditions", "collisionCount")
        }
        st["observedGeneration"] = d["metadata"].get("generation", 1)
        st["replicas"] = replicas
        st["updatedReplicas"] = _status_replicas(new, "replicas") if new is not None else 0
        st["readyReplicas"] = sum(_status_replicas(s, "readyReplicas") for s in sets)
        st["availableReplicas"] = available
        if replicas - available > 0:
            st["unavailableReplicas"] = replicas - available
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not st[field]:
                del st[field]
        _, max_unavailable = surge_and_unavailable(d)
        if available >= want - max_unavailable:
            st["conditions"] = self._with_condition(
                st,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        else:
            st["conditions"] = self._with_condition(
                st,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        st["conditions"] = self._progress(d, st, new, olds)
        await self.write_status(DEPLOYMENTS, d, st)

    def _progress(
        self, d: KubeObject, st: KubeObject, new: KubeObject | None, olds: list[KubeObject]
    ) -> list[KubeObject]:
        spec = d.get("spec") or {}
        current = next(
            (c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), None
        )
        if spec.get("paused"):
            return self._with_condition(
                st, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"
            )
        if current is not None and current.get("reason") == "DeploymentPaused":
            return self._with_condition(
                st, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"
            )
        if new is None:
            return list(st.get("conditions") or [])
        name = new["metadata"]["name"]
        if self._complete(d, new, olds):
            return self._with_condition(
                st,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
            )
        if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
            return list(st.get("conditions") or [])
        previous = d.get("status") or {}
        progressed = current is None or any(
            previous.get(f) != st.get(f)
            for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        )
        if progressed or current is None or current.get("status") != "True":
            return self._with_condition(
                st,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{name}" is progressing.',
                touch=progressed,
            )
        deadline = spec.get("progressDeadlineSeconds")
        last = parse_time(current.get("lastUpdateTime"))
        if isinstance(deadline, int) and last is not None:
            remaining = last.timestamp() + deadline - self.clock.time()
            if remaining <= 0:
                return self._with_condition(
                    st,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{name}" has timed out progressing.',
                )
            self.enqueue(key_of(d), remaining)
        return list(st.get("conditions") or [])
