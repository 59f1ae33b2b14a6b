"""Container environment: ``env`` values with ``$(VAR)`` expansion, and ``$(VAR)`` in argv.

Kubernetes expands ``$(NAME)`` in an env ``value`` against the variables
defined *before* it in the same container, and in ``command``/``args``
against the whole resolved environment.  ``$$`` is an escaped ``$``; a
reference to an unknown variable (or an unclosed ``$(``) stays as written.
Values from ``valueFrom`` are taken literally (never expanded).

:class:`EnvResolver` builds the environment as kubelet does: ``envFrom``
first (ConfigMaps and Secrets, with ``prefix``; keys that are not valid
variable names are skipped with an ``InvalidEnvironmentVariableNames``
event), then ``env`` in order (later definitions win).  ``valueFrom`` covers
``configMapKeyRef`` / ``secretKeyRef`` (``optional`` honoured), ``fieldRef``
and ``resourceFieldRef`` (see :mod:`kubelet_core._volumes.downward`).
Objects are read when a container starts (env is fixed for a container's
life) through the node's object cache
(:class:`~kubelet_core._volumes.objects.ObjectWatcher`), which keeps a
watch on each object the pod refers to, as kubelet's managers do.  Failures raise
:class:`ContainerConfigError` with kubelet's messages (``configmap "x" not
found``, ``couldn't find key k in ConfigMap default/x``), reported as
CreateContainerConfigError and retried.  Secret values are never logged.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from kubelet_core._apiclient import ApiError
from kubelet_core._apiclient.objects import namespace as namespace_of
from kubelet_core._provider.base import EventType, KubeObject
from kubelet_core._provider.errors import ContainerConfigError
from kubelet_core._volumes.downward import DownwardError, field_value, resource_value
from kubelet_core._volumes.objects import ObjectReader


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


_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_KINDS = {"configmaps": "ConfigMap", "secrets": "Secret"}

EventCallback = Callable[[KubeObject, EventType, str, str], None]
AllocatableGetter = Callable[[], Awaitable[Mapping[str, Any]]]


def is_env_name(name: str) -> bool:
    """Kubernetes' classic rule for variable names (kubelet skips others in envFrom)."""
    return bool(_ENV_NAME.match(name))


def object_strings(plural: str, obj: KubeObject) -> dict[str, str]:
    """A ConfigMap's data (+ binaryData) or a Secret's decoded data, as strings."""
    if plural == "secrets":
        return {
            str(k): base64.b64decode(str(v)).decode("utf-8", "replace")
            for k, v in (obj.get("data") or {}).items()
        }
    values = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        values.setdefault(str(key), base64.b64decode(str(value)).decode("utf-8", "replace"))
    return values


async def read_object(
    objects: ObjectReader | None, plural: str, namespace: str, name: str
) -> KubeObject | None:
    """A ConfigMap or Secret; None if it does not exist, ContainerConfigError otherwise."""
    singular = plural[:-1]
    if objects is None:
        raise ContainerConfigError(f"cannot read {singular} {name!r}: the node has no API client")
    try:
        return await objects.get(plural, namespace, name)
    except ApiError as exc:
        raise ContainerConfigError(f"cannot read {singular} {name!r}: {exc}") from None


#: ConfigMaps/Secrets read during one resolve, by (plural, namespace, name); None = absent.
_ObjectCache = dict[tuple[str, str, str], KubeObject | None]


@dataclasses.dataclass(frozen=True)
class EnvResolver:
    """Resolves a container's ``envFrom`` and ``env`` into ordered ``(name, value)`` pairs."""

    node_name: str
    node_ip: str
    #: The pod's view of the node's ConfigMap/Secret cache.
    objects: ObjectReader | None = None
    record_event: EventCallback | None = None
    #: The node's allocatable resources (defaults of unset limits in resourceFieldRef).
    allocatable: AllocatableGetter | None = None

    async def resolve(self, pod: KubeObject, container: KubeObject) -> list[tuple[str, str]]:
        values: dict[str, str] = {}  # insertion order = first definition; last value wins
        # One GET per ConfigMap/Secret per resolve, however many variables use it
        # (and one consistent snapshot of each).
        cache: _ObjectCache = {}
        for source in container.get("envFrom") or []:
            await self._env_from(pod, source or {}, values, cache)
        for var in container.get("env") or []:
            var_name = str(var.get("name", ""))
            if "valueFrom" in var:
                value = await self.value_from(
                    pod, container, var_name, var["valueFrom"] or {}, cache
                )
                if value is None:  # optional reference to something missing: no variable
                    continue
            else:
                value = expand(str(var.get("value", "")), values.get)
            values[var_name] = value
        return list(values.items())

    async def _lookup(
        self, pod: KubeObject, plural: str, ref: KubeObject, cache: _ObjectCache | None = None
    ) -> tuple[str, dict[str, str] | None]:
        namespace = namespace_of(pod)
        name = str(ref.get("name") or "")
        key = (plural, namespace, name)
        if cache is not None and key in cache:
            obj = cache[key]
        else:
            obj = await read_object(self.objects, plural, namespace, name)
            if cache is not None:
                cache[key] = obj
        if obj is None:
            if ref.get("optional"):
                return namespace, None
            raise ContainerConfigError(f'{plural[:-1]} "{name}" not found')
        return namespace, object_strings(plural, obj)

    async def _env_from(
        self,
        pod: KubeObject,
        source: KubeObject,
        values: dict[str, str],
        cache: _ObjectCache | None = None,
    ) -> None:
        plural = "configmaps" if "configMapRef" in source else "secrets"
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        namespace, data = await self._lookup(pod, plural, ref, cache)
        if data is None:
            return
        prefix = str(source.get("prefix") or "")
        invalid = []
        for key in data:  # insertion order as the API returned it (sorted by key)
            name = prefix + key
            if not is_env_name(name):
                invalid.append(name)
                continue
            values[name] = data[key]
        if invalid and self.record_event is not None:
            what = "configMap" if plural == "configmaps" else "secret"
            self.record_event(
                pod,
                "Warning",
                "InvalidEnvironmentVariableNames",
                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} "
                f"{namespace}/{ref.get('name')} were skipped since they are considered "
                "invalid environment variable names.",
            )

    async def value_from(
        self,
        pod: KubeObject,
        container: KubeObject,
        var_name: str,
        source: KubeObject,
        cache: _ObjectCache | None = None,
    ) -> str | None:
        """One ``valueFrom``; None when an optional ConfigMap/Secret or key is missing."""
        for ref_kind, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            ref = source.get(ref_kind)
            if ref is None:
                continue
            namespace, data = await self._lookup(pod, plural, ref, cache)
            if data is None:
                return None
            key = str(ref.get("key", ""))
            if key not in data:
                if ref.get("optional"):
                    return None
                raise ContainerConfigError(
                    f"couldn't find key {key} in {_KINDS[plural]} {namespace}/{ref.get('name')}"
                )
            return data[key]
        try:
            field_ref = source.get("fieldRef")
            if field_ref is not None:
                return field_value(
                    pod,
                    str(field_ref.get("fieldPath", "")),
                    node_name=self.node_name,
                    node_ip=self.node_ip,
                )
            resource_ref = source.get("resourceFieldRef")
            if resource_ref is not None:
                allocatable = await self.allocatable() if self.allocatable is not None else {}
                return resource_value(
                    pod,
                    resource_ref,
                    container_name=str(container.get("name", "")),
                    allocatable=allocatable,
                )
        except DownwardError as exc:
            raise ContainerConfigError(
                f"couldn't resolve env var {var_name!r} of container "
                f"{container.get('name')!r}: {exc}"
            ) from None
        kinds = ", ".join(sorted(source)) or "empty valueFrom"
        raise ContainerConfigError(
            f"couldn't resolve env var {var_name!r} of container {container.get('name')!r}: "
            f"{kinds} is not supported"
        )
