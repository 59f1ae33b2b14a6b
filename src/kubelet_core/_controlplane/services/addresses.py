"""A selected pod as an endpoint: the one step the EndpointSlice and Endpoints views share.

A wasm pod shares its node's network, so its address is the node's IP (its podIP) and a
port is the one the workload really listens on: a targetPort number, or the name of a
containerPort, whose hostPort wins when it has one (an actor binds its hostPort).
Readiness comes from the pod's Ready condition and deletionTimestamp, as kube's
EndpointSlice controller reads them.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.workloads.podutil import is_terminal, ready_since

KubeObject = dict[str, Any]


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
