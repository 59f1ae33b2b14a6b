"""ClusterIP and NodePort allocation, as kube-apiserver's allocators decide and word it.

Nothing is kept besides the stored Services: the values in use are read from them on
each allocation, so a deleted Service releases its IP and ports without bookkeeping
that could drift (and a restart on the same state directory sees the same picture).
The registry's create and update run synchronously up to the store write, so two
creates cannot both pick the same free value.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from kubelet_core._controlplane.resources import SERVICES
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]

#: kube-apiserver's default ``--service-cluster-ip-range``.
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
#: kube-apiserver's default ``--service-node-port-range``.
NODE_PORTS = range(30000, 32768)
INVALID = "FieldValueInvalid"


def _go_strings(values: list[str]) -> str:
    """A []string as Go's %#v prints it in field errors."""
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def first_ip() -> str:
    """The address the ``kubernetes`` Service takes (the range's first host)."""
    return str(SERVICE_CIDR.network_address + 1)


def _others(store: Store, obj: KubeObject) -> list[KubeObject]:
    uid = obj["metadata"].get("uid")
    return [e.obj for e in store.entries(SERVICES) if e.obj["metadata"].get("uid") != uid]


def used_ips(store: Store, obj: KubeObject) -> set[str]:
    used: set[str] = set()
    for other in _others(store, obj):
        spec = other.get("spec") or {}
        used.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip)
    return used


def used_node_ports(store: Store, obj: KubeObject) -> set[int]:
    return {
        port["nodePort"]
        for other in _others(store, obj)
        for port in (other.get("spec") or {}).get("ports") or []
        if isinstance(port, dict) and port.get("nodePort")
    }


def allocate_cluster_ip(store: Store, obj: KubeObject) -> list[Cause]:
    """Fill ``spec.clusterIP(s)``: the requested IP if free and in range, else a free one."""
    spec = obj["spec"]
    requested = spec.get("clusterIP") or ""
    used = used_ips(store, obj)
    if requested:
        ip = ipaddress.ip_address(requested)
        hosts_only = ip not in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address)
        if ip not in SERVICE_CIDR or not hosts_only:
            why = (
                f"the provided IP ({requested}) is not in the valid range. "
                f"The range of valid IPs is {SERVICE_CIDR}"
            )
        elif requested in used:
            why = "provided IP is already allocated"
        else:
            spec["clusterIPs"] = [requested]
            return []
        message = f"Invalid value: {_go_strings([requested])}: failed to allocate IP {requested}: "
        return [("spec.clusterIPs", INVALID, message + why)]
    size = SERVICE_CIDR.num_addresses - 2
    if len(used) >= size:
        return [("spec.clusterIPs", INVALID, "Internal error: range is full")]
    while True:  # the range is large; a random pick is almost always free
        candidate = str(SERVICE_CIDR.network_address + 1 + random.randrange(size))
        if candidate not in used and candidate != first_ip():
            spec["clusterIP"], spec["clusterIPs"] = candidate, [candidate]
            return []


def allocate_node_ports(store: Store, obj: KubeObject) -> list[Cause]:
    """Give each port of a NodePort/LoadBalancer Service a node port (kept if requested)."""
    used = used_node_ports(store, obj)
    causes: list[Cause] = []
    ports = obj["spec"].get("ports") or []
    for i, port in enumerate(ports):
        wanted = port.get("nodePort")
        if not wanted:
            continue
        if wanted not in NODE_PORTS:
            why = (
                "provided port is not in the valid range. The range of valid ports is "
                f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}"
            )
        elif wanted in used:
            why = "provided port is already allocated"
        else:
            used.add(wanted)
            continue
        causes.append((f"spec.ports[{i}].nodePort", INVALID, f"Invalid value: {wanted}: {why}"))
    if causes:
        return causes
    free = [p for p in NODE_PORTS if p not in used]
    random.shuffle(free)
    for port in ports:
        if not port.get("nodePort"):
            if not free:
                return [("spec.ports", INVALID, "Internal error: range is full")]
            port["nodePort"] = free.pop()
    return []
