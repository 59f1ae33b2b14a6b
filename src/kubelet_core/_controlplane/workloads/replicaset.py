"""The ReplicaSet controller: keep ``spec.replicas`` active pods from the template.

Pods are the RS's when their controller ownerReference names its uid; pods matching its
selector with no controller are adopted, owned pods that stopped matching are released
(as kube's ControllerRefManager does). Missing pods are created in slow-start batches;
surplus pods are deleted, the least useful first (unscheduled, then pending, not ready,
most recently ready, most restarts, newest), kube's ``ActivePods`` ordering. A deleting
ReplicaSet neither creates nor deletes. Status: replicas, fullyLabeledReplicas,
readyReplicas, availableReplicas (ready for minReadySeconds) and observedGeneration.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import PODS, REPLICASETS
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    controller_ref,
    in_batches,
    key_of,
    owner_keys,
    owner_reference,
)
from kubelet_core._controlplane.workloads.podutil import (
    is_active,
    is_available,
    is_ready,
    ready_since,
    replicas_of,
    selector_matches,
)

KubeObject = dict[str, Any]


def pod_from_template(
    template: KubeObject, owner_ref: KubeObject, namespace: str, generate_name: str
) -> KubeObject:
    tmeta = template.get("metadata") or {}
    meta: KubeObject = {
        "generateName": generate_name,
        "namespace": namespace,
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_ref],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    # A deep copy: admission (LimitRanger, RuntimeClass) mutates the pod, never the template.
    spec = copy.deepcopy(template["spec"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deletion_rank(pod: KubeObject) -> tuple[Any, ...]:
    """Sort key: pods to delete first come first (kube's ActivePods ordering)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    since = ready_since(pod) or ""
    return (
        1 if spec.get("nodeName") else 0,
        phase_rank,
        1 if is_ready(pod) else 0,
        _negated(since),
        -restarts,
        _negated(pod["metadata"].get("creationTimestamp") or ""),
    )


def _negated(stamp: str) -> tuple[int, ...]:
    """Later timestamps sort first."""
    return tuple(-ord(c) for c in stamp)


class ReplicaSetController(WorkloadController):
    name = "replicaset-controller"
    kind = REPLICASETS

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is REPLICASETS:
            yield key_of(event.obj)
        elif event.rt is PODS:
            owners = list(owner_keys(event, "ReplicaSet"))
            yield from owners
            if not owners and event.type != "DELETED":
                yield from self._matching(event.obj)

    def _matching(self, pod: KubeObject) -> Iterable[Key]:
        """ReplicaSets that might adopt an orphan pod."""
        ns = pod["metadata"].get("namespace") or ""
        labels = pod["metadata"].get("labels")
        for entry in self.store.entries(REPLICASETS, ns):
            if selector_matches((entry.obj.get("spec") or {}).get("selector"), labels):
                yield key_of(entry.obj)

    async def reconcile(self, key: Key) -> None:
        rs = self.get(REPLICASETS, key)
        if rs is None:
            return
        pods = await self.claim_pods(rs)
        deleting = bool(rs["metadata"].get("deletionTimestamp"))
        active = [p for p in pods if is_active(p)]
        failure: str | None = None
        if not deleting:
            try:
                await self._manage(rs, active)
            except Exception as exc:  # reported in the ReplicaFailure condition, then retried
                failure = str(getattr(exc, "message", exc))
                self.enqueue(key, 1.0)
            rs = self.get(REPLICASETS, key) or rs
            active = [p for p in self.owned(PODS, rs) if is_active(p)]
        await self._update_status(rs, active, failure)

    async def claim_pods(self, owner: KubeObject) -> list[KubeObject]:
        """Owned pods, after adopting matching orphans and releasing non-matching pods."""
        uid = owner["metadata"]["uid"]
        selector = (owner.get("spec") or {}).get("selector")
        ns = owner["metadata"]["namespace"]
        owned = []
        for pod in self.owned(PODS, owner):
            if selector_matches(selector, pod["metadata"].get("labels")):
                owned.append(pod)
            elif not owner["metadata"].get("deletionTimestamp"):
                await self._set_refs(pod, [r for r in _refs(pod) if r.get("uid") != uid])
        if owner["metadata"].get("deletionTimestamp"):
            return owned
        for entry in list(self.store.entries(PODS, ns)):
            pod = entry.obj
            if controller_ref(pod) is not None or not is_active(pod):
                continue
            if selector_matches(selector, pod["metadata"].get("labels")):
                ref = owner_reference(owner, self.kind)
                await self._set_refs(pod, [*_refs(pod), ref])
                owned.append(pod)
        return owned

    async def _set_refs(self, pod: KubeObject, refs: list[KubeObject]) -> None:
        meta = dict(pod["metadata"], ownerReferences=refs)
        if not refs:
            del meta["ownerReferences"]
        await self.registry.update(PODS, meta["namespace"], meta["name"], dict(pod, metadata=meta))

    async def _manage(self, rs: KubeObject, active: list[KubeObject]) -> None:
        want = replicas_of(rs)
        diff = want - len(active)
        meta = rs["metadata"]
        ns = meta["namespace"]
        if diff > 0:
            template = (rs.get("spec") or {}).get("template") or {}
            ref = owner_reference(rs, REPLICASETS)

            async def create() -> None:
                body = pod_from_template(template, ref, ns, f"{meta['name']}-")
                pod = await self.registry.create(PODS, ns, body)
                self.event(
                    rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
                )

            await in_batches([create() for _ in range(diff)])
        elif diff < 0:
            doomed = sorted(active, key=deletion_rank)[:-diff]

            async def delete(pod: KubeObject) -> None:
                name = pod["metadata"]["name"]
                await self.registry.delete(PODS, ns, name, DeleteOptions())
                self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

            await in_batches([delete(p) for p in doomed], initial=len(doomed))

    async def _update_status(
        self, rs: KubeObject, active: list[KubeObject], failure: str | None
    ) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        moment = self.clock.time()
        ready = [p for p in active if is_ready(p)]
        available = [p for p in active if is_available(p, min_ready, moment)]
        if min_ready and len(available) < len(ready):
            self.enqueue(key_of(rs), float(min_ready))
        old = rs.get("status") or {}
        status: KubeObject = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all(
                    (p["metadata"].get("labels") or {}).get(k) == v
                    for k, v in template_labels.items()
                )
            ),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if ready:
            status["readyReplicas"] = len(ready)
        if available:
            status["availableReplicas"] = len(available)
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if failure is not None:
            previous: KubeObject = next(
                (c for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"), {}
            )
            conditions.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": failure,
                    "lastTransitionTime": previous.get("lastTransitionTime") or self.clock.stamp(),
                }
            )
        if conditions:
            status["conditions"] = conditions
        await self.write_status(REPLICASETS, rs, status)


def _refs(pod: KubeObject) -> list[KubeObject]:
    return list(pod["metadata"].get("ownerReferences") or [])
