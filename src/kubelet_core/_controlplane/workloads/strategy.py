"""What kube-apiserver's DaemonSet strategy keeps that is no field of apps/v1.

The internal DaemonSet has ``spec.templateGeneration``; apps/v1 carries it as the
annotation ``deprecated.daemonset.template.generation`` (the conversion writes it
on every read and takes it back on every write).  The strategy starts it at the
client's value or 1 on create, and on update keeps the stored value, adding one
only when ``spec.template`` changed; ``metadata.generation`` moves on any spec
change (a changed ``updateStrategy`` or ``minReadySeconds`` too), so the two differ
as soon as something besides the template changes.  The DaemonSet controller labels
its pods ``pod-template-generation`` from the annotation.  A client cannot set it
on update: whatever the body says, the stored count comes back.
"""

from __future__ import annotations

from typing import Any

KubeObject = dict[str, Any]
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def template_generation(ds: KubeObject) -> int | None:
    """The annotation's count (the controller's GetTemplateGeneration), None if absent
    or not a number."""
    value = ((ds.get("metadata") or {}).get("annotations") or {}).get(
        TEMPLATE_GENERATION_ANNOTATION
    )
    if value is None:
        return None
    try:
        return int(str(value), 10)
    except ValueError:
        return None


def _set(ds: KubeObject, generation: int) -> None:
    meta = ds.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[TEMPLATE_GENERATION_ANNOTATION] = str(generation)


def prepare_daemonset_create(ds: KubeObject) -> None:
    """PrepareForCreate: the client's count if it gave one of at least 1, else 1."""
    _set(ds, max(template_generation(ds) or 0, 1))


def prepare_daemonset_update(old: KubeObject, new: KubeObject) -> None:
    """PrepareForUpdate: the stored count, plus one if the pod template changed (compared
    after defaulting, as kube compares the decoded objects)."""
    stored = template_generation(old) or 1  # one stored before the annotation was kept
    old_template = (old.get("spec") or {}).get("template")
    new_template = (new.get("spec") or {}).get("template")
    _set(new, stored + 1 if old_template != new_template else stored)
