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
outdated pods are replaced at most ``maxUnavailable`` at a time. Status carries the
desired/current/misscheduled/ready/available/updated counts and observedGeneration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import DAEMONSETS, NODES, PODS
from kubelet_core._controlplane.scheduler import tolerates
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
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
    template_hash,
)
from kubelet_core._controlplane.workloads.replicaset import pod_from_template

KubeObject = dict[str, Any]
REVISION_HASH = "controller-revision-hash"
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
        elif event.rt is NODES:
            for entry in self.store.entries(DAEMONSETS):
                yield key_of(entry.obj)

    async def reconcile(self, key: Key) -> None:
        ds = self.get(DAEMONSETS, key)
        if ds is None:
            return
        nodes = [e.obj for e in self.store.entries(NODES)]
        if not ds["metadata"].get("deletionTimestamp"):
            await self._manage(ds, nodes)
            ds = self.get(DAEMONSETS, key) or ds
        await self._update_status(ds, nodes)

    def _by_node(self, ds: KubeObject) -> dict[str, list[KubeObject]]:
        by_node: dict[str, list[KubeObject]] = {}
        for pod in self.owned(PODS, ds):
            if is_active(pod):
                node = str((pod.get("spec") or {}).get("nodeName") or "")
                by_node.setdefault(node, []).append(pod)
        for pods in by_node.values():
            pods.sort(key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
        return by_node

    async def _manage(self, ds: KubeObject, nodes: list[KubeObject]) -> None:
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
        doomed.extend(self._outdated_to_replace(ds, nodes, by_node, doomed))
        meta = ds["metadata"]
        ns = meta["namespace"]
        ref = owner_reference(ds, DAEMONSETS)
        labels = {
            REVISION_HASH: template_hash(template),
            TEMPLATE_GENERATION: str(meta.get("generation", 1)),
        }

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
            if pods and not self._updated(ds, pods[0]):
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

    @staticmethod
    def _updated(ds: KubeObject, pod: KubeObject) -> bool:
        labels = pod["metadata"].get("labels") or {}
        template = (ds.get("spec") or {}).get("template") or {}
        return labels.get(REVISION_HASH) == template_hash(template)

    async def _update_status(self, ds: KubeObject, nodes: list[KubeObject]) -> None:
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
                    updated += self._updated(ds, pod)
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
        if desired - available:
            status["numberUnavailable"] = desired - available
        await self.write_status(DAEMONSETS, ds, status)
