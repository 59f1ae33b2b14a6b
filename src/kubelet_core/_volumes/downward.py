"""The downward API: pod fields and container resources as strings, shared by env and volumes.

One implementation serves ``env[].valueFrom.fieldRef`` / ``resourceFieldRef``
and the items of ``downwardAPI`` (and ``projected``) volumes, so the two can
never disagree.  The rules are kubelet's:

* whole ``metadata.labels`` / ``metadata.annotations`` (volumes only) are
  rendered ``key="value"`` lines, sorted by key, values Go-quoted, no final
  newline;
* a wasm pod shares the node's network, so ``status.podIP(s)`` is the node IP;
* resource values are ``ceil(value / divisor)`` (divisor defaults to 1); an
  unset limit defaults to the node's allocatable amount, an unset request to 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kubelet_core._apiclient.objects import meta as meta_of
from kubelet_core._provider.base import KubeObject
from kubelet_core._quantity import ceil_div, parse_quantity

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
RESOURCES = frozenset(
    f"{kind}.{name}"
    for kind in ("limits", "requests")
    for name in ("cpu", "memory", "ephemeral-storage")
)


class DownwardError(ValueError):
    """A field or resource reference that cannot be resolved (message is user-facing)."""


def go_quote(text: str) -> str:
    """Like Go's ``%q`` for the printable text labels and annotations hold."""
    return json.dumps(text, ensure_ascii=False)


def format_map(values: Mapping[str, Any]) -> str:
    return "\n".join(f"{key}={go_quote(str(values[key]))}" for key in sorted(values))


def field_value(
    pod: KubeObject, path: str, *, node_name: str, node_ip: str, volume: bool = False
) -> str:
    """The value of ``fieldRef.fieldPath`` for ``pod``; DownwardError if unsupported."""
    meta = meta_of(pod)
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    host_ip = str(status.get("hostIP") or node_ip)
    pod_ip = str(status.get("podIP") or host_ip)
    pod_ips = [str(entry.get("ip")) for entry in status.get("podIPs") or [] if entry.get("ip")]
    host_ips = [str(entry.get("ip")) for entry in status.get("hostIPs") or [] if entry.get("ip")]
    common: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace") or "default",
        "metadata.uid": meta.get("uid"),
    }
    env_only: dict[str, Any] = {
        "spec.nodeName": spec.get("nodeName") or node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName") or "",
        "status.hostIP": host_ip,
        "status.hostIPs": ",".join(host_ips or [host_ip]),
        "status.podIP": pod_ip,
        "status.podIPs": ",".join(pod_ips or [pod_ip]),
    }
    if path in common:
        return str(common[path] or "")
    if not volume and path in env_only:
        return str(env_only[path])
    if volume and path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]) or {})
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise DownwardError(f"unsupported fieldPath: {path}")


def _find_container(pod: KubeObject, name: str) -> KubeObject:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if container.get("name") == name:
            return dict(container)
    raise DownwardError(f"container {name} not found")


def resource_value(
    pod: KubeObject,
    ref: KubeObject,
    *,
    container_name: str,
    allocatable: Mapping[str, Any],
) -> str:
    """The value of a ``resourceFieldRef``; ``container_name`` is used if the ref names none."""
    resource = str(ref.get("resource", ""))
    if resource not in RESOURCES:
        raise DownwardError(f"unsupported container resource : {resource!r}")
    container = _find_container(pod, str(ref.get("containerName") or container_name))
    kind, name = resource.split(".", 1)
    amounts = (container.get("resources") or {}).get(kind) or {}
    raw = amounts.get(name)
    if raw is None and kind == "limits":
        raw = allocatable.get(name)
    try:
        value = parse_quantity(raw) if raw is not None else Fraction(0)
        divisor = parse_quantity(ref.get("divisor") or "1")
        return str(ceil_div(value, divisor))
    except ValueError as exc:
        raise DownwardError(f"resource {resource}: {exc}") from None
