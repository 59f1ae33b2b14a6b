"""ControllerRevisions of a DaemonSet: what kube's daemon controller stores, and matches.

A revision's ``data`` is the strategic merge patch that restores the DaemonSet's pod
template: ``{"spec": {"template": {..., "$patch": "replace"}}}``, the template as Go
marshals the typed object (keys sorted, an unset creationTimestamp omitted). kubectl
compares those bytes with the patch it computes from the DaemonSet it reads (``rollout
undo`` reports "current template already matches revision N" when equal) and PATCHes the
DaemonSet with them, so the shape must be exactly Go's. The revision is named
``<daemonset>-<hash>`` and labelled ``controller-revision-hash: <hash>``; the hash is the
template's (with the collision count), and pods made from it carry the same label.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelet_core._controlplane.workloads.podutil import selector_matches, template_hash

KubeObject = dict[str, Any]
REVISION_HASH = "controller-revision-hash"


def _sorted(value: Any) -> Any:
    """Keys sorted at every level, as Go marshals a map[string]interface{}."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def go_template(template: KubeObject | None) -> KubeObject:
    """The pod template as ``json.Marshal`` of the typed PodTemplateSpec prints it.

    ObjectMeta.creationTimestamp is ``omitzero`` (apimachinery since 1.34), so a
    ``null`` one (``kubectl create --dry-run`` manifests carry it) is dropped; each
    container's ``resources`` is a struct, always printed (defaulting already adds it).
    """
    copied = copy.deepcopy(template or {})
    meta = copied.get("metadata")
    if not isinstance(meta, dict):
        meta = copied["metadata"] = {}
    if meta.get("creationTimestamp") is None:
        meta.pop("creationTimestamp", None)
    spec = copied.get("spec")
    if isinstance(spec, dict):
        for field in ("containers", "initContainers"):
            for container in spec.get(field) or []:
                if isinstance(container, dict):
                    container.setdefault("resources", {})
    result: KubeObject = _sorted(copied)
    return result


def revision_data(ds: KubeObject) -> KubeObject:
    """The patch kube stores in a DaemonSet's ControllerRevision (update.go ``getPatch``)."""
    template = go_template((ds.get("spec") or {}).get("template"))
    return {"spec": {"template": {"$patch": "replace", **template}}}


def matches(ds: KubeObject, revision: KubeObject) -> bool:
    """Does ``revision`` hold the DaemonSet's current template (kube's ``Match``)?"""
    return revision.get("data") == revision_data(ds)


def revision_hash(ds: KubeObject) -> str:
    """The hash naming a new revision of the DaemonSet's template (with its collisions)."""
    collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
    return template_hash(go_template((ds.get("spec") or {}).get("template")), collisions)


def number(revision: KubeObject) -> int:
    value = revision.get("revision")
    return value if isinstance(value, int) else 0


def hash_of(obj: KubeObject) -> str:
    return str((obj["metadata"].get("labels") or {}).get(REVISION_HASH) or "")


def new_revision(ds: KubeObject, owner_ref: KubeObject, revision: int) -> KubeObject:
    """The ControllerRevision body kube's ``snapshot`` creates for the current template."""
    meta = ds["metadata"]
    digest = revision_hash(ds)
    template_labels = ((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}
    body: KubeObject = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{meta['name']}-{digest}",
            "namespace": meta["namespace"],
            "labels": dict(template_labels.get("labels") or {}, **{REVISION_HASH: digest}),
            "ownerReferences": [owner_ref],
        },
        "data": revision_data(ds),
        "revision": revision,
    }
    if meta.get("annotations"):
        body["metadata"]["annotations"] = dict(meta["annotations"])
    return body


def selected(ds: KubeObject, revision: KubeObject) -> bool:
    """Does the DaemonSet's selector select the revision (as ClaimControllerRevisions)?"""
    selector = (ds.get("spec") or {}).get("selector")
    return selector_matches(selector, revision["metadata"].get("labels"))
