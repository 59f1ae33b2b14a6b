"""v1 Service: kube-apiserver's defaults, validation and allocation, in one hook.

The registry calls :func:`admit` on every create and spec update of a Service; it
defaults the object in place (type ClusterIP, sessionAffinity None, single-stack IPv4,
internalTrafficPolicy Cluster, ports TCP with targetPort = port), checks the fields
and then allocates the ClusterIP and NodePorts (``allocation``). On update the values
already allocated are carried over when the new object leaves them out, as
kube-apiserver's ``patchAllocatedValues`` does, so ``kubectl apply`` of a manifest
without a clusterIP keeps the Service's address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubelet_core._controlplane.resources import ENDPOINTSLICES, SERVICES, ResourceType
from kubelet_core._controlplane.services import allocation
from kubelet_core._controlplane.services import printers as _printers  # noqa: F401
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
REQUIRED, INVALID, DUPLICATE = "FieldValueRequired", "FieldValueInvalid", "FieldValueDuplicate"
NOT_SUPPORTED, FORBIDDEN = "FieldValueNotSupported", "FieldValueForbidden"
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_WHY = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_WHY = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
    "with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  "
    "or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def needs_node_ports(spec: KubeObject) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def is_headless(spec: KubeObject) -> bool:
    return spec.get("clusterIP") == "None"


def supported(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def apply_defaults(obj: KubeObject) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if needs_node_ports(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    if spec.get("clusterIP") == "None":
        spec["clusterIPs"] = ["None"]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def normalize_status(obj: KubeObject) -> None:
    """``status.loadBalancer`` on every Service, ExternalName too: ServiceStatus and its
    LoadBalancerStatus are Go structs, which ``omitempty`` never leaves out."""
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not isinstance(status.get("loadBalancer"), dict):
        status["loadBalancer"] = {}


def _port_errors(spec: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    ports = spec.get("ports") or []
    if not ports and not is_headless(spec) and spec.get("type") != "ExternalName":
        return [("spec.ports", REQUIRED, "Required value")]
    names: set[str] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append((f"{path}.name", REQUIRED, "Required value"))
        elif name and name in names:
            causes.append((f"{path}.name", DUPLICATE, f'Duplicate value: "{name}"'))
        elif name and not _DNS1123.match(name):
            causes.append((f"{path}.name", INVALID, f'Invalid value: "{name}": {_DNS1123_WHY}'))
        names.add(name)
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(
                (
                    f"{path}.port",
                    INVALID,
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            causes.append(
                (
                    f"{path}.protocol",
                    NOT_SUPPORTED,
                    f'Unsupported value: "{protocol}": supported values: {supported(PROTOCOLS)}',
                )
            )
        if port.get("nodePort") and not needs_node_ports(spec):
            causes.append(
                (
                    f"{path}.nodePort",
                    FORBIDDEN,
                    f"Forbidden: may not be used when `type` is '{spec.get('type')}'",
                )
            )
    return causes


def _selector_errors(selector: Any) -> list[Cause]:
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return [("spec.selector", INVALID, "Invalid value: must be a map of strings")]
    causes: list[Cause] = []
    for key, value in selector.items():
        if not _LABEL_KEY.match(str(key)):
            causes.append(
                (
                    "spec.selector",
                    INVALID,
                    f'Invalid value: "{key}": name part must consist of '
                    "alphanumeric characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "spec.selector",
                    INVALID,
                    f'Invalid value: "{value}": a valid label must be an '
                    "empty string or consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
    return causes


def service_errors(obj: KubeObject) -> list[Cause]:
    """Field errors of a Service, worded as kube-apiserver words them."""
    name = obj["metadata"].get("name") or ""
    if not _DNS1035.match(name):
        return [("metadata.name", INVALID, f'Invalid value: "{name}": {_DNS1035_WHY}')]
    spec = obj["spec"]
    kind = spec.get("type")
    if kind not in TYPES:
        return [
            (
                "spec.type",
                NOT_SUPPORTED,
                f'Unsupported value: "{kind}": supported values: {supported(TYPES)}',
            )
        ]
    causes = _port_errors(spec) + _selector_errors(spec.get("selector"))
    requested = spec.get("clusterIP")
    if requested and requested != "None":
        try:
            ipaddress.ip_address(requested)
        except ValueError:
            causes.append(
                (
                    "spec.clusterIPs[0]",
                    INVALID,
                    f'Invalid value: "{requested}": must be a valid IP address, '
                    "(e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    if kind == "ExternalName" and not spec.get("externalName"):
        causes.append(("spec.externalName", REQUIRED, "Required value"))
    return causes


ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def endpoint_slice_errors(obj: KubeObject, old: KubeObject | None) -> list[Cause]:
    """An EndpointSlice's addressType: one of kube's, and fixed once set."""
    kind = obj.get("addressType")
    if not kind:
        return [("addressType", REQUIRED, "Required value")]
    if kind not in ADDRESS_TYPES:
        return [
            (
                "addressType",
                NOT_SUPPORTED,
                f'Unsupported value: "{kind}": supported values: {supported(ADDRESS_TYPES)}',
            )
        ]
    if old is not None and old.get("addressType") != kind:
        return [("addressType", INVALID, f'Invalid value: "{kind}": field is immutable')]
    return []


def _carry_over(old: KubeObject, new: KubeObject) -> list[Cause]:
    """Keep allocated values the update leaves out; the ClusterIP never changes."""
    old_spec, spec = old.get("spec") or {}, new["spec"]
    if spec.get("type") == "ExternalName" or old_spec.get("type") == "ExternalName":
        return []
    old_ip = old_spec.get("clusterIP")
    if not spec.get("clusterIP") and old_ip:
        spec["clusterIP"] = old_ip
        spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_ip])
    if old_ip and spec.get("clusterIP") != old_ip:
        return [
            (
                "spec.clusterIPs[0]",
                INVALID,
                f'Invalid value: "{spec.get("clusterIP")}": may not change once set',
            )
        ]
    if needs_node_ports(old_spec) and not needs_node_ports(spec):
        # Leaving NodePort: the allocated ports a client sends back are dropped, as
        # kube's dropTypeDependentFields does, rather than refused.
        allocated_ports = {p.get("nodePort") for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            if port.get("nodePort") in allocated_ports:
                del port["nodePort"]
    if needs_node_ports(old_spec) and needs_node_ports(spec):
        allocated = {
            (p.get("port"), p.get("protocol")): p.get("nodePort")
            for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                kept = allocated.get((port.get("port"), port.get("protocol")))
                if kept:
                    port["nodePort"] = kept
    return []


def admit(store: Store, rt: ResourceType, obj: KubeObject, old: KubeObject | None) -> list[Cause]:
    """Default, validate and allocate a Service being created (``old`` None) or updated.

    EndpointSlices are only validated here (addressType).
    """
    if rt is ENDPOINTSLICES:
        return endpoint_slice_errors(obj, old)
    if rt is not SERVICES:
        return []
    if old is None:
        obj["status"] = {}  # PrepareForCreate: a client does not choose the status
    apply_defaults(obj)
    normalize_status(obj)
    causes = _carry_over(old, obj) if old is not None else []
    causes = causes or service_errors(obj)
    if causes:
        return causes
    spec = obj["spec"]
    if spec["type"] == "ExternalName":
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            spec.pop(field, None)
        return []
    if not is_headless(spec):
        unchanged = old is not None and (old.get("spec") or {}).get("clusterIP") == spec.get(
            "clusterIP"
        )
        if not unchanged:
            causes = allocation.allocate_cluster_ip(store, obj)
    if not causes and needs_node_ports(spec):
        causes = allocation.allocate_node_ports(store, obj)
    return causes
