"""RuntimeClass (``node.k8s.io/v1``): its validation and the RuntimeClass admission plugin.

A RuntimeClass names a runtime ``handler`` (what the node's runtime calls the
way it runs a pod: ``wasmlet-wasi``, ``wasmlet-wascc``) and may say where such
pods can go (``scheduling.nodeSelector``, ``scheduling.tolerations``) and what
running one costs (``overhead.podFixed``).  A pod only names the class
(``spec.runtimeClassName``); admission copies the rest into it, as
kube-apiserver's RuntimeClass plugin does, so the scheduler and the node see a
plain pod:

* an unknown class is refused (403, ``pod rejected: RuntimeClass "x" not found``);
* the class's ``nodeSelector`` is merged into the pod's; a key both set to
  different values is refused (403, ``conflict: runtimeClass.scheduling...``);
* the class's tolerations are added to the pod's (none twice);
* ``overhead.podFixed`` becomes ``spec.overhead``; a pod that sets a different
  overhead itself is refused.

:func:`runtime_class` builds the object, so the manifests for real clusters
and the ones ``wasmlet up`` creates (:func:`ensure_runtime_classes`) agree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.resources import RUNTIME_CLASSES
from kubelet_core._provider.base import NodeProfile, handler_label
from kubelet_core._provider.names import label_error

if TYPE_CHECKING:  # the registry admits pods with this module
    from kubelet_core._controlplane.registry import Registry

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]
#: ``name -> RuntimeClass or None``.
ClassLookup = Callable[[str], KubeObject | None]


def runtime_class_errors(obj: KubeObject) -> list[Cause]:
    """Field errors of a RuntimeClass, worded as kube-apiserver words them."""
    handler = obj.get("handler")
    if not handler:
        return [("handler", "FieldValueRequired", "Required value")]
    why = label_error(str(handler)) if isinstance(handler, str) else "must be a string"
    if why is not None:
        return [("handler", "FieldValueInvalid", f'Invalid value: "{handler}": {why}')]
    scheduling = obj.get("scheduling")
    if scheduling is not None and not isinstance(scheduling, dict):
        return [("scheduling", "FieldValueInvalid", "Invalid value: must be an object")]
    return []


def runtime_class_update_errors(old: KubeObject, new: KubeObject) -> list[Cause]:
    """The handler never changes (pods admitted under it would silently move)."""
    if old.get("handler") != new.get("handler"):
        return [
            (
                "handler",
                "FieldValueInvalid",
                f'Invalid value: "{new.get("handler")}": field is immutable',
            )
        ]
    return []


def _forbidden(pod: KubeObject, reason: str) -> ApiError:
    name = (pod.get("metadata") or {}).get("name", "")
    return ApiError(
        403,
        "Forbidden",
        f'pods "{name}" is forbidden: {reason}',
        {"name": name, "kind": "pods"},
    )


def admit_pod(pod: KubeObject, lookup: ClassLookup) -> None:
    """Apply the pod's RuntimeClass to it in place, or raise a 403 ApiError."""
    spec = pod.get("spec")
    if not isinstance(spec, dict) or not spec.get("runtimeClassName"):
        return
    name = str(spec["runtimeClassName"])
    found = lookup(name)
    if found is None:
        raise _forbidden(pod, f'pod rejected: RuntimeClass "{name}" not found')
    fixed = (found.get("overhead") or {}).get("podFixed")
    if fixed:
        if spec.get("overhead") and spec["overhead"] != fixed:
            raise _forbidden(
                pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
            )
        spec["overhead"] = copy.deepcopy(fixed)
    scheduling = found.get("scheduling") or {}
    selector = dict(spec.get("nodeSelector") or {})
    for key, value in (scheduling.get("nodeSelector") or {}).items():
        if key in selector and selector[key] != value:
            raise _forbidden(
                pod,
                f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                f"pod.spec.nodeSelector[{key}] = {selector[key]}",
            )
        selector[key] = value
    if selector:
        spec["nodeSelector"] = selector
    extra = scheduling.get("tolerations") or []
    if extra:
        tolerations = list(spec.get("tolerations") or [])
        tolerations += [copy.deepcopy(t) for t in extra if t not in tolerations]
        spec["tolerations"] = tolerations


def runtime_class(
    handler: str,
    *,
    name: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[KubeObject] = (),
) -> KubeObject:
    """A RuntimeClass for ``handler`` (named like it unless told)."""
    obj: KubeObject = {
        "apiVersion": RUNTIME_CLASSES.api_version,
        "kind": RUNTIME_CLASSES.kind,
        "metadata": {"name": name or handler},
        "handler": handler,
    }
    scheduling: KubeObject = {}
    if node_selector:
        scheduling["nodeSelector"] = dict(node_selector)
    tolerations = [dict(t) for t in tolerations]
    if tolerations:
        scheduling["tolerations"] = tolerations
    if scheduling:
        obj["scheduling"] = scheduling
    return obj


def runtime_classes_for(profile: NodeProfile) -> list[KubeObject]:
    """One RuntimeClass per handler ``profile`` serves, placing pods on such nodes.

    ``scheduling.nodeSelector`` is the node's handler label and the tolerations
    are its taints', so ``runtimeClassName`` alone takes a pod there.
    """
    tolerations = [
        {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
        for t in profile.taints
    ]
    return [
        runtime_class(
            handler, node_selector={handler_label(handler): "true"}, tolerations=tolerations
        )
        for handler in profile.runtime_handlers
    ]


async def ensure_runtime_classes(registry: Registry, classes: Iterable[KubeObject]) -> None:
    """Create each RuntimeClass that does not exist yet (``wasmlet up``, one per provider).

    A class that exists is left as it is: the user may have changed its
    scheduling, and its handler cannot change.
    """
    for obj in classes:
        name = obj["metadata"]["name"]
        if registry.store.get(RUNTIME_CLASSES, "", name) is None:
            await registry.create(RUNTIME_CLASSES, "", copy.deepcopy(obj))
