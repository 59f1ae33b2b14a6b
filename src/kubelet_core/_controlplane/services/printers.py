"""The Service, EndpointSlice and Endpoints ``kubectl get`` columns, on import (schemas: schemas/).

Columns as kube-apiserver's printers fill them: ``NAME TYPE CLUSTER-IP EXTERNAL-IP
PORT(S) AGE [SELECTOR]`` (ports as ``80/TCP`` or ``80:30080/TCP``), ``NAME
ADDRESSTYPE PORTS ENDPOINTS AGE`` and ``NAME ENDPOINTS AGE`` (ready ``ip:port`` pairs,
the first three then ``+ N more...``).
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES
from kubelet_core._controlplane.tables import PRINTERS, age

KubeObject = dict[str, Any]
Row = list[Any]


def _ports(spec: KubeObject) -> str:
    parts = []
    for port in spec.get("ports") or []:
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        parts.append(f"{port.get('port')}{node}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _external_ip(obj: KubeObject) -> str:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = spec.get("type")
    if kind == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    ips = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress] + ips
        return ",".join(ips) or "<pending>"
    return ",".join(ips) or "<none>"


def _selector(spec: KubeObject) -> str:
    selector = spec.get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def service_row(obj: KubeObject) -> Row:
    spec = obj.get("spec") or {}
    return [
        obj["metadata"]["name"],
        spec.get("type", ""),
        spec.get("clusterIP") or "<none>",
        _external_ip(obj),
        _ports(spec),
        age(obj["metadata"].get("creationTimestamp")),
        _selector(spec),
    ]


def endpoint_slice_row(obj: KubeObject) -> Row:
    ports = ",".join(str(p.get("port")) for p in obj.get("ports") or []) or "<unset>"
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addresses[:3])
    if len(addresses) > 3:
        shown += f" + {len(addresses) - 3} more..."
    return [
        obj["metadata"]["name"],
        obj.get("addressType", ""),
        ports,
        shown or "<unset>",
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(obj: KubeObject, limit: int = 3) -> str:
    """kubectl's formatEndpoints: ready addresses with each port, ``<none>`` when empty."""
    shown: list[str] = []
    count = 0
    for subset in obj.get("subsets") or []:
        ips = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        pairs = [_host_port(ip, p.get("port")) for p in ports for ip in ips] if ports else ips
        count += len(pairs)
        shown.extend(pairs[: max(0, limit - len(shown))])
    text = ",".join(shown)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<none>"


def endpoints_row(obj: KubeObject) -> Row:
    return [
        obj["metadata"]["name"],
        format_endpoints(obj),
        age(obj["metadata"].get("creationTimestamp")),
    ]


PRINTERS[SERVICES.key] = (
    [
        ("Name", "string", 0, "name"),
        ("Type", "string", 0, ""),
        ("Cluster-IP", "string", 0, ""),
        ("External-IP", "string", 0, ""),
        ("Port(s)", "string", 0, ""),
        ("Age", "string", 0, ""),
        ("Selector", "string", 1, ""),
    ],
    service_row,
)
PRINTERS[ENDPOINTSLICES.key] = (
    [
        ("Name", "string", 0, "name"),
        ("AddressType", "string", 0, ""),
        ("Ports", "string", 0, ""),
        ("Endpoints", "string", 0, ""),
        ("Age", "string", 0, ""),
    ],
    endpoint_slice_row,
)
PRINTERS[ENDPOINTS.key] = (
    [
        ("Name", "string", 0, "name"),
        ("Endpoints", "string", 0, ""),
        ("Age", "string", 0, ""),
    ],
    endpoints_row,
)
