"""The EndpointSlice controller: a Service's slices list the pods its selector selects.

As kube-controller-manager's controller: for each Service with a selector, slices
labelled ``kubernetes.io/service-name`` and managed-by ``endpointslice-controller.k8s.io``,
controlled by the Service (so the garbage collector removes them with it), addressType
IPv4. An endpoint is a pod with an IP that has not finished: its address is the pod IP
(a wasm pod shares its node's network, so the node's IP), its conditions come from the
pod's Ready condition and deletionTimestamp (ready = Ready and not terminating, or the
Service publishes not-ready addresses; serving = Ready; terminating), with nodeName and
a targetRef to the pod. Ports are resolved per pod from each Service port's targetPort
(a number, or the name of a containerPort; that port's hostPort when it has one, where a
wasm pod on its node's network listens), so pods that resolve a named port differently
land in different slices, one slice per distinct port list. A Service with no ready
pods keeps one empty slice, as kube does. A slice written carries kube's
``endpoints.kubernetes.io/last-change-trigger-time`` (endpoints.TriggerTimes). The same
reconcile keeps the Service's v1 Endpoints (endpoints.py) from the same pod -> endpoint
step, so the two views never disagree; as kube's endpoints controller, it deletes the
Endpoints of a Service that is gone (at start too, for ones left behind) and recreates a
deleted one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.registry import DeleteOptions, Registry
from kubelet_core._controlplane.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from kubelet_core._controlplane.services.addresses import endpoint, endpoint_ports, selects
from kubelet_core._controlplane.services.endpoints import EndpointsWriter, with_trigger_time
from kubelet_core._controlplane.store import Event, Store
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    key_of,
    owner_reference,
)

KubeObject = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
LEADER_RECORD = "control-plane.alpha.kubernetes.io/leader"


def desired_slices(service: KubeObject, pods: Iterable[KubeObject]) -> list[KubeObject]:
    """The slices' ``ports`` and ``endpoints``, one per distinct port list (sorted)."""
    groups: dict[str, tuple[list[KubeObject], list[KubeObject]]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        found = endpoint(service, pod)
        if found is None:
            continue
        ports = endpoint_ports(service, pod)
        groups.setdefault(json.dumps(ports, sort_keys=True), (ports, []))[1].append(found)
    if not groups:
        return [{"ports": None, "endpoints": None}]
    return [{"ports": ports, "endpoints": eps} for _k, (ports, eps) in sorted(groups.items())]


class EndpointSliceController(WorkloadController):
    name = "endpointslice-controller"
    kind = SERVICES

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        super().__init__(store, registry, clock)
        self.endpoints = EndpointsWriter(store, registry)

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is SERVICES:
            yield key_of(event.obj)
        elif event.rt is PODS:
            namespace = event.obj["metadata"].get("namespace") or ""
            labels = [p["metadata"].get("labels") for p in (event.obj, event.prev) if p is not None]
            for entry in self.store.entries(SERVICES, namespace):
                selector = (entry.obj.get("spec") or {}).get("selector")
                if any(selects(selector, lab) for lab in labels):
                    yield key_of(entry.obj)
        elif event.rt is ENDPOINTSLICES:  # someone else changed or deleted one of ours
            mine = event.obj["metadata"].get("labels") or {}
            if mine.get(MANAGED_BY) == CONTROLLER and mine.get(SERVICE_NAME):
                yield event.obj["metadata"].get("namespace") or "", mine[SERVICE_NAME]
        elif event.rt is ENDPOINTS and event.type == "DELETED":  # kube recreates it
            yield key_of(event.obj)

    def start(self) -> None:
        """Start, and look at every Endpoints once: one whose Service is gone is deleted."""
        super().start()
        for entry in self.store.entries(ENDPOINTS):
            if LEADER_RECORD not in (entry.obj["metadata"].get("annotations") or {}):
                self.enqueue(key_of(entry.obj))

    async def reconcile(self, key: Key) -> None:
        service = self.get(SERVICES, key)
        if service is None:
            await self.endpoints.forget(key)  # its slices go with it (garbage collector)
            return
        if service["metadata"].get("deletionTimestamp"):
            return
        selector = (service.get("spec") or {}).get("selector")
        if not selector or service["spec"].get("type") == "ExternalName":
            return  # slices of a selector-less Service are the user's to write
        namespace = key[0]
        pods = [
            e.obj
            for e in self.store.entries(PODS, namespace)
            if selects(selector, e.obj["metadata"].get("labels"))
        ]
        # One trigger time per sync, computed even when nothing is written (as kube).
        trigger = self.endpoints.trigger_times.compute(service, pods)
        await self._sync_slices(service, pods, trigger)
        await self.endpoints.sync(service, pods, trigger)

    async def _sync_slices(
        self, service: KubeObject, pods: list[KubeObject], trigger: str | None
    ) -> None:
        """Slices written (created or updated) carry the trigger time, as kube's reconciler."""
        namespace = service["metadata"]["namespace"]
        wanted = desired_slices(service, pods)
        existing = sorted(self.owned(ENDPOINTSLICES, service), key=lambda o: o["metadata"]["name"])
        labels = {
            **(service["metadata"].get("labels") or {}),
            SERVICE_NAME: service["metadata"]["name"],
            MANAGED_BY: CONTROLLER,
        }
        for i, content in enumerate(wanted):
            if i < len(existing):
                current = existing[i]
                updated = dict(current, addressType="IPv4", **content)
                updated["metadata"] = dict(current["metadata"], labels=labels)
                if updated != current:
                    updated["metadata"] = with_trigger_time(updated["metadata"], trigger)
                    await self.registry.update(
                        ENDPOINTSLICES, namespace, current["metadata"]["name"], updated
                    )
                continue
            meta = {
                "generateName": f"{service['metadata']['name']}-",
                "labels": labels,
                "ownerReferences": [owner_reference(service, SERVICES)],
            }
            body: KubeObject = {
                "metadata": with_trigger_time(meta, trigger),
                "addressType": "IPv4",
                **content,
            }
            await self.registry.create(ENDPOINTSLICES, namespace, body)
        for extra in existing[len(wanted) :]:
            await self.registry.delete(
                ENDPOINTSLICES, namespace, extra["metadata"]["name"], DeleteOptions()
            )
