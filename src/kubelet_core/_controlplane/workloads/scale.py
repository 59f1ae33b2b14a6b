"""The ``/scale`` subresource of Deployments and ReplicaSets: an ``autoscaling/v1`` Scale.

``kubectl scale`` (and autoscalers) read and write only the replica count through it:
GET returns a Scale built from the object, PUT and PATCH change ``spec.replicas`` of the
object and nothing else. A Scale naming a resourceVersion must name the object's current
one (optimistic concurrency carries over).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelet_core._controlplane import errors
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.resources import ResourceType
from kubelet_core._controlplane.workloads.podutil import format_selector, replicas_of

KubeObject = dict[str, Any]


def to_scale(obj: KubeObject) -> KubeObject:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": replicas_of(obj)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": format_selector((obj.get("spec") or {}).get("selector")).replace(
                "<none>", ""
            ),
        },
    }


def read_scale(registry: Registry, rt: ResourceType, namespace: str, name: str) -> KubeObject:
    return to_scale(registry.get(rt, namespace, name).obj)


async def write_scale(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    change: Callable[[KubeObject], Any],
) -> KubeObject:
    """Apply ``change`` (a PUT body or a patch) to the Scale and store its replicas."""
    entry = registry.get(rt, namespace, name)
    scale = change(to_scale(entry.obj))
    if not isinstance(scale, dict):
        raise errors.bad_request("the body of the request is not a Scale")
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid(
            "Scale",
            "autoscaling",
            name,
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != entry.obj["metadata"]["resourceVersion"]:
        raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
    updated = dict(entry.obj, spec=dict(entry.obj.get("spec") or {}, replicas=replicas))
    stored = await registry.update(rt, namespace, name, updated)
    return to_scale(stored)
