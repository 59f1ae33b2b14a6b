"""ResourceQuota (``v1``): validation, usage, the ResourceQuota admission plugin, its controller.

A quota caps what a namespace holds: ``pods`` / ``count/pods``, compute
(``requests.cpu`` or ``cpu``, ``requests.memory`` or ``memory``,
``limits.cpu``, ``limits.memory``) summed over non-terminal pods, and object
counts (``count/<plural>[.<group>]``, ``configmaps``, ``secrets``, ...).

Admission (on create) refuses what would exceed a quota with kube's 403
(``exceeded quota: q, requested: ..., used: ..., limited: ...``) and, as kube
must for compatibility, refuses a pod whose containers do not set every
cpu/memory request or limit a quota caps (``failed quota: q: must specify
...``).  Usage is counted from the store at admission: the store is this
process's, so the count is exact and two creates cannot both slip under a
limit (there is no await between the check and the write).
:class:`QuotaController` keeps ``status.hard`` and ``status.used`` current for
``kubectl describe quota``, recounting a namespace when something in it changes.
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.podresources import (
    Resources,
    container_resources,
    containers,
    pod_limits,
    pod_requests,
    quantities,
)
from kubelet_core._controlplane.resources import BY_KEY, PODS, RESOURCE_QUOTAS, ResourceType
from kubelet_core._controlplane.store import Event, Store
from kubelet_core._quantity import format_quantity, is_binary, parse_quantity

if TYPE_CHECKING:  # the registry imports this module
    from kubelet_core._controlplane.registry import Registry

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]
log = logging.getLogger(__name__)

#: Names a quota may use for an object count besides ``count/<key>``.
LEGACY_COUNTS = {
    "configmaps": "configmaps",
    "secrets": "secrets",
    "resourcequotas": "resourcequotas",
    "services": "services",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "replicationcontrollers": "replicationcontrollers",
}
_COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def quota_errors(obj: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    hard = (obj.get("spec") or {}).get("hard") or {}
    if not isinstance(hard, dict):
        return [("spec.hard", "FieldValueInvalid", "Invalid value: must be an object")]
    for name, text in hard.items():
        path = f"spec.hard[{name}]"
        try:
            value = parse_quantity(text)
        except (ValueError, TypeError):
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{text}": quantities must match '
                    "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
            )
            continue
        if value < 0:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{text}": must be greater than or equal to 0',
                )
            )
    return causes


# -- usage ---------------------------------------------------------------------------------
def counts_against(pod: KubeObject) -> bool:
    """Terminal pods hold no quota."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def pod_usage(pod: KubeObject) -> Resources:
    usage: Resources = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for name, value in pod_requests(pod).items():
        usage[f"requests.{name}"] = value
        if name in ("cpu", "memory", "ephemeral-storage"):
            usage[name] = value
    for name, value in pod_limits(pod).items():
        usage[f"limits.{name}"] = value
    return usage


def object_usage(rt: ResourceType, obj: KubeObject) -> Resources:
    """What creating ``obj`` adds to its namespace's usage."""
    if rt is PODS:
        return pod_usage(obj) if counts_against(obj) else {}
    usage = {f"count/{rt.key}": Fraction(1)}
    if not rt.group and rt.plural in LEGACY_COUNTS:
        usage[LEGACY_COUNTS[rt.plural]] = Fraction(1)
    return usage


def _type_of(resource: str) -> ResourceType | None:
    if resource.startswith("count/"):
        return BY_KEY.get(resource[len("count/") :])
    if resource in LEGACY_COUNTS:
        return BY_KEY.get(LEGACY_COUNTS[resource])
    return PODS


def namespace_usage(store: Store, namespace: str, names: list[str]) -> Resources:
    """Current usage of ``names`` in ``namespace``, counted from the store."""
    used: Resources = {name: Fraction(0) for name in names}
    wanted_types = {rt for rt in (_type_of(n) for n in names) if rt is not None}
    for rt in wanted_types:
        for entry in store.entries(rt, namespace):
            for name, value in object_usage(rt, entry.obj).items():
                if name in used:
                    used[name] += value
    return used


def _show(values: Resources, hard: dict[str, Any]) -> str:
    parts = []
    for name in sorted(values):
        parts.append(f"{name}={_format_like(values[name], hard.get(name, ''))}")
    return ",".join(parts)


def _format_like(value: Fraction, hard: Any) -> str:
    """``value`` in the format of the quota's limit (``1Gi`` next to ``2Gi``)."""
    return format_quantity(value, binary=is_binary(hard) and value % 1024 == 0)


# -- admission -----------------------------------------------------------------------------
def _missing_compute(pod: KubeObject, required: set[str]) -> set[str]:
    missing: set[str] = set()
    for c in containers(pod) + containers(pod, "initContainers"):
        requests, limits = container_resources(c)
        present = set()
        for name in ("cpu", "memory"):
            if name in requests:
                present |= {name, f"requests.{name}"}
            if name in limits:
                present.add(f"limits.{name}")
        missing |= required - present
    return missing


def admit_create(store: Store, rt: ResourceType, obj: KubeObject) -> None:
    """Refuse ``obj`` (403) if creating it breaks a quota of its namespace."""
    if not rt.namespaced:
        return
    namespace = obj["metadata"].get("namespace") or ""
    quotas = store.entries(RESOURCE_QUOTAS, namespace)
    if not quotas:
        return
    requested = object_usage(rt, obj)
    if not requested:
        return
    name = obj["metadata"].get("name", "")
    for entry in sorted(quotas, key=lambda e: e.obj["metadata"]["name"]):
        quota = entry.obj
        qname = quota["metadata"]["name"]
        hard_text = dict((quota.get("spec") or {}).get("hard") or {})
        hard = quantities(hard_text)
        restricted = [n for n in hard if n in requested or (rt is PODS and n in _COMPUTE)]
        if not restricted:
            continue
        if rt is PODS:
            missing = _missing_compute(obj, set(restricted) & set(_COMPUTE))
            if missing:
                raise _forbidden(
                    rt, name, f"failed quota: {qname}: must specify {','.join(sorted(missing))}"
                )
        used = namespace_usage(store, namespace, restricted)
        exceeded = [n for n in restricted if used[n] + requested.get(n, Fraction(0)) > hard[n]]
        if exceeded:
            asked = {n: requested.get(n, Fraction(0)) for n in exceeded}
            raise _forbidden(
                rt,
                name,
                f"exceeded quota: {qname}, requested: {_show(asked, hard_text)}, "
                f"used: {_show({n: used[n] for n in exceeded}, hard_text)}, "
                f"limited: {_show({n: hard[n] for n in exceeded}, hard_text)}",
            )


def _forbidden(rt: ResourceType, name: str, why: str) -> ApiError:
    plural = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return ApiError(
        403,
        "Forbidden",
        f'{plural} "{name}" is forbidden: {why}',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


# -- controller ----------------------------------------------------------------------------
class QuotaController(BackgroundController):
    """Keeps each ResourceQuota's ``status`` (hard, used) current from store events."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._dirty |= {e.obj["metadata"]["namespace"] for e in self.store.entries(RESOURCE_QUOTAS)}
        self.store.add_listener(self._on_event)
        self._launch("resourcequota")
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        namespace = event.obj["metadata"].get("namespace")
        if not namespace or not event.rt.namespaced:
            return
        if event.rt is RESOURCE_QUOTAS or self.store.entries(RESOURCE_QUOTAS, namespace):
            self._dirty.add(namespace)
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                await self._sync(self._dirty.pop())

    async def _sync(self, namespace: str) -> None:
        for entry in list(self.store.entries(RESOURCE_QUOTAS, namespace)):
            quota = entry.obj
            hard_text = dict((quota.get("spec") or {}).get("hard") or {})
            used = namespace_usage(self.store, namespace, list(quantities(hard_text)))
            status = {
                "hard": hard_text,
                "used": {n: _format_like(v, hard_text[n]) for n, v in used.items()},
            }
            if quota.get("status") == status:
                continue
            try:
                await self.registry.update(
                    RESOURCE_QUOTAS,
                    namespace,
                    quota["metadata"]["name"],
                    dict(quota, status=status),
                    subresource="status",
                )
            except ApiError as exc:  # changed meanwhile: its own event brings it back
                log.debug("quota %s/%s: %s", namespace, quota["metadata"]["name"], exc.message)
