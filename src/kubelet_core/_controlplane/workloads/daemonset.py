"""The DaemonSet controller: one pod from the template on every eligible node.

As kube's daemon controller: a node is eligible when it matches the template's
``nodeSelector`` and has no NoSchedule/NoExecute taint the pod does not tolerate. The
pod gets kube's daemon tolerations first (not-ready/unreachable NoExecute, the
disk/memory/pid-pressure and unschedulable NoSchedule taints), so a daemon keeps running
through node trouble. Pods are bound by the controller itself: ``spec.nodeName`` plus the
required node affinity on ``metadata.name`` kube writes, so no scheduler is involved. A
node gaining an untolerated NoExecute taint, or no longer matching, loses its pod; a
node with an untolerated NoSchedule taint keeps a pod it already runs (as kube's
``shouldContinueRunning``). Extra pods on one node are deleted, the newest first; pods on
nodes that are gone are left to pod GC, as upstream. With the RollingUpdate strategy
outdated pods are replaced at most ``maxUnavailable`` at a time.

History is kube's: a ControllerRevision per distinct template (revisions.py), the one
matching the current template being the newest number; pods carry its
``controller-revision-hash`` label and a pod is up to date when its label is the current
revision's. Old revisions beyond ``revisionHistoryLimit`` go, oldest first, unless a pod
still runs one; ``kubectl rollout history|undo`` read and restore them. Status carries
the desired/current/misscheduled/ready/available/updated counts, observedGeneration and
collisionCount. A DaemonSet being deleted is left alone (the garbage collector removes
its pods and revisions), as upstream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kubelet_core._controlplane.scheduler import tolerates
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
from kubelet_core._controlplane.workloads.deployment import scaled_value
from kubelet_core._controlplane.workloads.podutil import (
    is_active,
    is_available,
    is_ready,
)
from kubelet_core._controlplane.workloads.replicaset import pod_from_template
from kubelet_core._controlplane.workloads.revisions import (
    REVISION_HASH,
    hash_of,
    matches,
    new_revision,
    number,
    selected,
)
from kubelet_core._controlplane.workloads.strategy import template_generation

KubeObject = dict[str, Any]
TEMPLATE_GENERATION = "pod-template-generation"
DAEMON_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def daemon_tolerations(spec: KubeObject) -> list[KubeObject]:
    """The template's tolerations plus kube's daemon ones it does not have yet."""
    tolerations = [dict(t) for t in spec.get("tolerations") or []]
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return tolerations


def placement(spec: KubeObject, node: KubeObject) -> tuple[bool, bool]:
    """(should run, should continue running) of a daemon pod with ``spec`` on ``node``."""
    labels = node["metadata"].get("labels") or {}
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False, False
    tolerations = daemon_tolerations(spec)
    run = True
    for taint in (node.get("spec") or {}).get("taints") or []:
        if any(tolerates(t, taint) for t in tolerations):
            continue
        if taint.get("effect") == "NoExecute":
            return False, False
        if taint.get("effect") == "NoSchedule":
            run = False
    return run, True


def bound_to(spec: KubeObject, node_name: str) -> KubeObject:
    """The pod spec pinned to one node: nodeName and a required affinity on its name."""
    pinned = dict(spec, nodeName=node_name, tolerations=daemon_tolerations(spec))
    affinity = dict(pinned.get("affinity") or {})
    affinity["nodeAffinity"] = dict(
        affinity.get("nodeAffinity") or {},
        requiredDuringSchedulingIgnoredDuringExecution={
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
            ]
        },
    )
    pinned["affinity"] = affinity
    return pinned


class DaemonSetController(WorkloadController):
    name = "daemonset-controller"
    kind = DAEMONSETS

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is DAEMONSETS:
            yield key_of(event.obj)
        elif event.rt is PODS:
            yield from owner_keys(event, "DaemonSet")
        elif event.rt is CONTROLLERREVISIONS:
            yield from self._revision_owner_keys(event)
        elif event.rt is NODES:
            for entry in self.store.entries(DAEMONSETS):
                yield key_of(entry.obj)

    def _revision_owner_keys(self, event: Event) -> Iterable[Key]:
        """A revision's owner; for an orphan, every DaemonSet that could adopt it."""
        if controller_ref(event.obj) is not None:
            yield from owner_keys(event, "DaemonSet")
            return
        namespace = event.obj["metadata"].get("namespace") or ""
        for entry in self.store.entries(DAEMONSETS, namespace):
            if selected(entry.obj, event.obj):
                yield key_of(entry.obj)

    async def reconcile(self, key: Key) -> None:
        ds = self.get(DAEMONSETS, key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return  # as kube: a DaemonSet being deleted is left to the garbage collector
        nodes = [e.obj for e in self.store.entries(NODES)]
        current, old = await self._construct_history(ds)
        digest = hash_of(current)
        await self._manage(ds, nodes, digest)
        await self._cleanup_history(ds, old)
        ds = self.get(DAEMONSETS, key) or ds
        await self._update_status(ds, nodes, digest)

    # -- history -----------------------------------------------------------------------
    async def _construct_history(self, ds: KubeObject) -> tuple[KubeObject, list[KubeObject]]:
        """The revision of the current template (made, or renumbered, as needed) and the rest.

        A revision brought back (``kubectl rollout undo``) takes the next number, so the
        newest number is always the template the DaemonSet runs.
        """
        revisions = await self._claim_revisions(ds)
        current = [r for r in revisions if matches(ds, r)]
        old = [r for r in revisions if not matches(ds, r)]
        next_number = max((number(r) for r in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, next_number), old
        kept = await self._dedup(ds, current)
        if number(kept) < next_number:
            kept = await self._update_revision(dict(kept, revision=next_number))
        return kept, old

    async def _claim_revisions(self, ds: KubeObject) -> list[KubeObject]:
        """Revisions the DaemonSet controls and its selector selects, adopting orphans."""
        ours = [r for r in self.owned(CONTROLLERREVISIONS, ds) if selected(ds, r)]
        namespace = ds["metadata"]["namespace"]
        for entry in list(self.store.entries(CONTROLLERREVISIONS, namespace)):
            revision = entry.obj
            if controller_ref(revision) is None and selected(ds, revision):
                refs = [*(revision["metadata"].get("ownerReferences") or [])]
                refs.append(owner_reference(ds, DAEMONSETS))
                meta = dict(revision["metadata"], ownerReferences=refs)
                ours.append(await self._update_revision(dict(revision, metadata=meta)))
        labelled = []
        for revision in ours:
            if not hash_of(revision):  # kube labels an unlabelled one with its name
                meta = revision["metadata"]
                labels = dict(meta.get("labels") or {}, **{REVISION_HASH: meta["name"]})
                revision = await self._update_revision(
                    dict(revision, metadata=dict(meta, labels=labels))
                )
            labelled.append(revision)
        return labelled

    async def _update_revision(self, revision: KubeObject) -> KubeObject:
        meta = revision["metadata"]
        return await self.registry.update(
            CONTROLLERREVISIONS, meta["namespace"], meta["name"], revision
        )

    async def _snapshot(self, ds: KubeObject, revision_number: int) -> KubeObject:
        """Create the current template's revision; a name taken by another is a collision."""
        body = new_revision(ds, owner_reference(ds, DAEMONSETS), revision_number)
        namespace, name = ds["metadata"]["namespace"], body["metadata"]["name"]
        try:
            return await self.registry.create(CONTROLLERREVISIONS, namespace, body)
        except ApiError as exc:
            if exc.code != 409:
                raise
            existing = self.get(CONTROLLERREVISIONS, (namespace, name))
            if existing is not None and matches(ds, existing):
                return existing
            collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
            status = dict(ds.get("status") or {}, collisionCount=collisions + 1)
            await self.write_status(DAEMONSETS, ds, status)
            raise  # retried with the new count

    async def _dedup(self, ds: KubeObject, current: list[KubeObject]) -> KubeObject:
        """Several revisions of one template: keep the newest, move pods' labels to it."""
        kept = max(current, key=number)
        for duplicate in current:
            if duplicate is kept:
                continue
            for pod in self.owned(PODS, ds):
                if hash_of(pod) == hash_of(duplicate):
                    labels = dict(pod["metadata"].get("labels") or {})
                    labels[REVISION_HASH] = hash_of(kept)
                    meta = dict(pod["metadata"], labels=labels)
                    await self.registry.update(
                        PODS, meta["namespace"], meta["name"], dict(pod, metadata=meta)
                    )
            await self._delete_revision(duplicate)
        return kept

    async def _cleanup_history(self, ds: KubeObject, old: list[KubeObject]) -> None:
        """Old revisions beyond ``revisionHistoryLimit``, oldest first, unless a pod runs one."""
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        excess = len(old) - (limit if isinstance(limit, int) else 10)
        if excess <= 0:
            return
        live = {hash_of(p) for p in self.owned(PODS, ds)}
        for revision in sorted(old, key=number):
            if excess <= 0:
                break
            if hash_of(revision) in live:
                continue
            await self._delete_revision(revision)
            excess -= 1

    async def _delete_revision(self, revision: KubeObject) -> None:
        meta = revision["metadata"]
        try:
            await self.registry.delete(
                CONTROLLERREVISIONS, meta["namespace"], meta["name"], DeleteOptions()
            )
        except ApiError as exc:
            if exc.code != 404:
                raise

    # -- pods --------------------------------------------------------------------------
    def _by_node(self, ds: KubeObject) -> dict[str, list[KubeObject]]:
        by_node: dict[str, list[KubeObject]] = {}
        for pod in self.owned(PODS, ds):
            if is_active(pod):
                node = str((pod.get("spec") or {}).get("nodeName") or "")
                by_node.setdefault(node, []).append(pod)
        for pods in by_node.values():
            pods.sort(key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
        return by_node

    async def _manage(self, ds: KubeObject, nodes: list[KubeObject], digest: str) -> None:
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        by_node = self._by_node(ds)
        create: list[str] = []
        doomed: list[KubeObject] = []
        for node in nodes:
            name = node["metadata"]["name"]
            run, keep = placement(pod_spec, node)
            pods = by_node.get(name, [])
            if run and not pods:
                create.append(name)
            elif pods and not keep:
                doomed.extend(pods)
            elif len(pods) > 1:
                doomed.extend(pods[1:])  # the oldest stays
        doomed.extend(self._outdated_to_replace(ds, nodes, by_node, doomed, digest))
        meta = ds["metadata"]
        ns = meta["namespace"]
        ref = owner_reference(ds, DAEMONSETS)
        labels = {
            REVISION_HASH: digest,
        }
        generation = template_generation(ds)
        if generation is not None:  # CreatePodTemplate labels it only when the annotation is
            labels[TEMPLATE_GENERATION] = str(generation)

        async def create_on(node_name: str) -> None:
            body = pod_from_template(template, ref, ns, f"{meta['name']}-")
            body["metadata"]["labels"].update(labels)
            body["spec"] = bound_to(body["spec"], node_name)
            pod = await self.registry.create(PODS, ns, body)
            self.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        async def delete(pod: KubeObject) -> None:
            name = pod["metadata"]["name"]
            await self.registry.delete(PODS, ns, name, DeleteOptions())
            self.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        if doomed:
            await in_batches([delete(p) for p in doomed], initial=len(doomed))
        if create:
            await in_batches([create_on(n) for n in create])

    def _outdated_to_replace(
        self,
        ds: KubeObject,
        nodes: list[KubeObject],
        by_node: dict[str, list[KubeObject]],
        doomed: list[KubeObject],
        digest: str,
    ) -> list[KubeObject]:
        """RollingUpdate: outdated pods to delete now, within ``maxUnavailable``."""
        spec = ds.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return []
        desired = [
            n["metadata"]["name"]
            for n in nodes
            if placement((spec.get("template") or {}).get("spec") or {}, n)[0]
        ]
        budget = scaled_value(
            (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1),
            len(desired),
            round_up=True,
        )
        budget = max(budget, 1)
        min_ready = int(spec.get("minReadySeconds") or 0)
        moment = self.clock.time()
        gone = {p["metadata"]["name"] for p in doomed}
        unavailable = 0
        outdated: list[KubeObject] = []
        for name in desired:
            pods = [p for p in by_node.get(name, []) if p["metadata"]["name"] not in gone]
            # A pod on its way out counts as unavailable (kube's rolling update too).
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            if not live or not is_available(live[0], min_ready, moment):
                unavailable += 1
            pods = live or pods
            if pods and hash_of(pods[0]) != digest:
                outdated.append(pods[0])
        # Unavailable outdated pods first: replacing them costs no availability.
        outdated.sort(key=lambda p: is_available(p, min_ready, moment))
        chosen = []
        for pod in outdated:
            if not is_available(pod, min_ready, moment):
                chosen.append(pod)
            elif unavailable < budget:
                chosen.append(pod)
                unavailable += 1
        return chosen

    async def _update_status(self, ds: KubeObject, nodes: list[KubeObject], digest: str) -> None:
        spec = ds.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        moment = self.clock.time()
        by_node = self._by_node(ds)
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            run, _keep = placement(pod_spec, node)
            pods = by_node.get(node["metadata"]["name"], [])
            if run:
                desired += 1
                if pods:
                    current += 1
                    pod = pods[0]
                    ready += is_ready(pod)
                    available += is_available(pod, min_ready, moment)
                    updated += hash_of(pod) == digest
            elif pods:
                misscheduled += 1
        if min_ready and available < ready:
            self.enqueue(key_of(ds), float(min_ready))
        status: KubeObject = {
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": updated,
        }
        if available:
            status["numberAvailable"] = available
        collisions = (ds.get("status") or {}).get("collisionCount")
        if collisions:
            status["collisionCount"] = collisions
        if desired - available:
            status["numberUnavailable"] = desired - available
        await self.write_status(DAEMONSETS, ds, status)
