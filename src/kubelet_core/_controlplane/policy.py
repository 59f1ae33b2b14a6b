"""Where the registry meets the policy objects: LimitRange, ResourceQuota, PodDisruptionBudget.

The registry calls these three hooks and knows nothing else of them:
:func:`default` (on create and update), :func:`validate` (field errors) and
:func:`admit_create` (the LimitRanger and ResourceQuota admission plugins, in
kube-apiserver's order: LimitRanger's defaults before the RuntimeClass
plugin's overhead, then LimitRanger's checks, then ResourceQuota last).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelet_core._controlplane import limitranger, resourcequota
from kubelet_core._controlplane.disruption import pdb_errors
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.podresources import qos_class
from kubelet_core._controlplane.resources import (
    LIMIT_RANGES,
    PODDISRUPTIONBUDGETS,
    PODS,
    RESOURCE_QUOTAS,
    ResourceType,
)
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]


def default(rt: ResourceType, obj: KubeObject) -> None:
    if rt is LIMIT_RANGES:
        limitranger.default_limit_range(obj)


def validate(rt: ResourceType, obj: KubeObject) -> list[Cause]:
    if rt is LIMIT_RANGES:
        return limitranger.limit_range_errors(obj)
    if rt is RESOURCE_QUOTAS:
        return resourcequota.quota_errors(obj)
    if rt is PODDISRUPTIONBUDGETS:
        return pdb_errors(obj)
    return []


def admit_create(
    store: Store, rt: ResourceType, obj: KubeObject, mutate: Callable[[KubeObject], None]
) -> None:
    """Admission of a new object; ``mutate`` is the admission that runs between
    LimitRanger's defaults and its checks (the RuntimeClass plugin)."""
    if rt is PODS:
        ranges = [e.obj for e in store.entries(LIMIT_RANGES, obj["metadata"]["namespace"])]
        limitranger.mutate_pod(obj, ranges)
        mutate(obj)
        violations = limitranger.pod_violations(obj, ranges)
        if violations:
            why = violations[0] if len(violations) == 1 else "[" + ", ".join(violations) + "]"
            name = obj["metadata"].get("name", "")
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: {why}',
                {"name": name, "kind": "pods"},
            )
        status = obj.get("status")
        if isinstance(status, dict):
            status["qosClass"] = qos_class(obj)
    else:
        mutate(obj)
    resourcequota.admit_create(store, rt, obj)
