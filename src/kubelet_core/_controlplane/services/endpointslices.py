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
pods keeps one empty slice, as kube does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import ENDPOINTSLICES, PODS, SERVICES
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    key_of,
    owner_reference,
)
from kubelet_core._controlplane.workloads.podutil import is_terminal, ready_since

KubeObject = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"


def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service selector (a plain map) selects the labels that carry all its pairs."""
    labels = labels or {}
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def resolve_port(pod: KubeObject, target: Any) -> int | None:
    """The port the pod really listens on for a targetPort (None: it has no such port).

    A number, or the name of a containerPort. A wasm pod shares its node's network, so
    when the matching containerPort has a hostPort, that is where the workload is
    reachable (an actor binds its hostPort): the hostPort wins.
    """
    number = int(target) if isinstance(target, str) and target.isdigit() else target
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for port in container.get("ports") or []:
            if port.get("name") == number or port.get("containerPort") == number:
                return int(port.get("hostPort") or port["containerPort"])
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def endpoint_ports(service: KubeObject, pod: KubeObject) -> list[KubeObject]:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        number = resolve_port(pod, port.get("targetPort", port.get("port")))
        if number is None:
            continue
        entry: KubeObject = {
            "name": port.get("name") or "",
            "port": number,
            "protocol": port.get("protocol", "TCP"),
        }
        if port.get("appProtocol"):
            entry["appProtocol"] = port["appProtocol"]
        ports.append(entry)
    return ports


def endpoint(service: KubeObject, pod: KubeObject) -> KubeObject | None:
    """The pod as an endpoint, or None when it has no address or has finished."""
    status = pod.get("status") or {}
    address = status.get("podIP") or ((status.get("podIPs") or [{}])[0]).get("ip")
    if not address or is_terminal(pod):
        return None
    meta = pod["metadata"]
    terminating = bool(meta.get("deletionTimestamp"))
    serving = ready_since(pod) is not None  # Ready, whether or not terminating
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    result: KubeObject = {
        "addresses": [address],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": publish or serving,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        result["nodeName"] = node
    return result


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

    async def reconcile(self, key: Key) -> None:
        service = self.get(SERVICES, key)
        if service is None or service["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes the slices it controlled
        selector = (service.get("spec") or {}).get("selector")
        if not selector or service["spec"].get("type") == "ExternalName":
            return  # slices of a selector-less Service are the user's to write
        namespace = key[0]
        pods = [
            e.obj
            for e in self.store.entries(PODS, namespace)
            if selects(selector, e.obj["metadata"].get("labels"))
        ]
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
                    await self.registry.update(
                        ENDPOINTSLICES, namespace, current["metadata"]["name"], updated
                    )
                continue
            body: KubeObject = {
                "metadata": {
                    "generateName": f"{service['metadata']['name']}-",
                    "labels": labels,
                    "ownerReferences": [owner_reference(service, SERVICES)],
                },
                "addressType": "IPv4",
                **content,
            }
            await self.registry.create(ENDPOINTSLICES, namespace, body)
        for extra in existing[len(wanted) :]:
            await self.registry.delete(
                ENDPOINTSLICES, namespace, extra["metadata"]["name"], DeleteOptions()
            )
