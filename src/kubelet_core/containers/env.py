"""Container environment: ``env`` values with ``$(VAR)`` expansion, and ``$(VAR)`` in argv.

Kubernetes expands ``$(NAME)`` in an env ``value`` against the variables
defined *before* it in the same container, and in ``command``/``args``
against the whole resolved environment.  ``$$`` is an escaped ``$``; a
reference to an unknown variable (or an unclosed ``$(``) stays as written.
Values from ``valueFrom`` are taken literally (never expanded).

Only ``valueFrom.fieldRef`` is resolved here so far; ConfigMap, Secret and
resource references and ``envFrom`` raise :class:`ContainerConfigError`
(reported as CreateContainerConfigError) until the volumes/env work adds them
to :class:`EnvResolver`.  The resolver is async so that work can read objects
from the API.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubelet_core.provider.base import KubeObject
from kubelet_core.provider.errors import ContainerConfigError


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$(NAME)`` references in ``text`` by Kubernetes' rules."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":  # escaped dollar
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close < 0:  # unclosed reference: "$(" stays, the rest is scanned on
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            value = lookup(name) if name else None
            out.append(value if value is not None else text[i : close + 1])
            i = close + 1
        else:
            out.append("$")
            i += 1
    return "".join(out)


def expand_all(items: Sequence[str], env: Mapping[str, str]) -> list[str]:
    return [expand(item, env.get) for item in items]


_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


@dataclasses.dataclass(frozen=True)
class EnvResolver:
    """Resolves a container's ``env`` into ordered ``(name, value)`` pairs."""

    node_name: str
    node_ip: str
    api: Any = None  # for ConfigMap/Secret lookups (later)

    async def resolve(self, pod: KubeObject, container: KubeObject) -> list[tuple[str, str]]:
        name = container.get("name", "")
        if container.get("envFrom"):
            raise ContainerConfigError(f"container {name!r}: envFrom is not supported yet")
        values: dict[str, str] = {}  # insertion order = first definition; last value wins
        for var in container.get("env") or []:
            var_name = str(var.get("name", ""))
            if "valueFrom" in var:
                value = await self.value_from(pod, container, var_name, var["valueFrom"] or {})
            else:
                value = expand(str(var.get("value", "")), values.get)
            values[var_name] = value
        return list(values.items())

    async def value_from(
        self, pod: KubeObject, container: KubeObject, var_name: str, source: KubeObject
    ) -> str:
        """One ``valueFrom``; extend this for ConfigMap/Secret/resource references."""
        field_ref = source.get("fieldRef")
        if field_ref is not None:
            return self.field_value(pod, str(field_ref.get("fieldPath", "")), var_name)
        kinds = ", ".join(sorted(source)) or "empty valueFrom"
        raise ContainerConfigError(
            f"couldn't resolve env var {var_name!r} of container {container.get('name')!r}: "
            f"{kinds} is not supported yet"
        )

    def field_value(self, pod: KubeObject, path: str, var_name: str) -> str:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        simple: dict[str, Any] = {
            "metadata.name": meta.get("name"),
            "metadata.namespace": meta.get("namespace"),
            "metadata.uid": meta.get("uid"),
            "spec.nodeName": spec.get("nodeName") or self.node_name,
            "spec.serviceAccountName": spec.get("serviceAccountName"),
            "status.hostIP": status.get("hostIP") or self.node_ip,
            "status.hostIPs": status.get("hostIP") or self.node_ip,
            "status.podIP": status.get("podIP") or self.node_ip,
            "status.podIPs": status.get("podIP") or self.node_ip,
        }
        if path in simple:
            return str(simple[path] or "")
        match = _LABEL_REF.match(path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        raise ContainerConfigError(
            f"couldn't resolve env var {var_name!r}: unsupported fieldPath {path!r}"
        )
