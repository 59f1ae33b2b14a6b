"""The strategic merge patch kubelet sends for its Node's status.

kubelet never writes its status with a resourceVersion: it reads the Node, sets its
fields on a copy, and PATCHes ``nodes/<name>/status`` with the two-way strategic merge
patch between the two (``PatchNodeStatus`` in kubernetes' pkg/util/node). Only what the
agent changed travels, conditions merge by ``type`` (with ``$setElementOrder``), and a
concurrent writer, such as the node lifecycle controller marking Ready Unknown, neither
causes a conflict nor loses its other changes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

KubeObject = dict[str, Any]

# NodeStatus list fields that merge by a key (patchStrategy=merge in core/v1's Go tags);
# its other lists (images, volumesInUse, volumesAttached) are replaced whole.
NODE_STATUS_MERGE_KEYS: Mapping[str, str] = {"conditions": "type", "addresses": "type"}


def two_way_merge_patch(
    original: KubeObject, modified: KubeObject, merge_keys: Mapping[str, str]
) -> KubeObject:
    """The patch that turns ``original`` into ``modified`` (strategicpatch's two-way diff):
    removed keys are null, maps recurse, keyed lists diff element by element, other
    values are replaced when they differ."""
    patch: KubeObject = {key: None for key in original if key not in modified}
    for key, new in modified.items():
        if key not in original:
            patch[key] = new
            continue
        old = original[key]
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            nested = two_way_merge_patch(old, new, merge_keys)
            if nested:
                patch[key] = nested
        elif isinstance(old, list) and isinstance(new, list) and key in merge_keys:
            patch.update(_keyed_list_patch(key, old, new, merge_keys))
        else:
            patch[key] = new
    return patch


def _keyed_list_patch(
    field: str, original: list[Any], modified: list[Any], merge_keys: Mapping[str, str]
) -> KubeObject:
    """A merge-by-key list's part of the patch: changed and new elements, deletions, and
    the ``$setElementOrder`` list whenever anything changed or the order did."""
    if not original:
        return {field: modified}
    key = merge_keys[field]
    old_by_key = {item.get(key): item for item in original if isinstance(item, dict)}
    new_keys = [item.get(key) for item in modified if isinstance(item, dict)]
    changes: list[Any] = []
    for item in modified:
        previous = old_by_key.get(item.get(key))
        if previous is None:
            changes.append(item)
            continue
        diff = two_way_merge_patch(previous, item, merge_keys)
        if diff:
            changes.append({key: item[key], **diff})
    changes += [{key: k, "$patch": "delete"} for k in old_by_key if k not in new_keys]
    same_order = [k for k in old_by_key if k in new_keys] == new_keys
    part: KubeObject = {}
    if changes:
        part[field] = changes
    if changes or not same_order:
        part[f"$setElementOrder/{field}"] = [{key: k} for k in new_keys]
    return part


def node_status_patch(original: KubeObject, modified: KubeObject) -> KubeObject:
    """kubelet's patch from the Node it read to the one it wants (spec never changes).

    Addresses are marked ``merge`` by key ``type`` although two addresses may share a
    type, so kubelet replaces the whole list when it changed (``$patch: replace``)."""
    target = copy.deepcopy(modified)
    target.pop("spec", None)
    if "spec" in original:
        target["spec"] = original["spec"]
    old_addresses = (original.get("status") or {}).get("addresses") or []
    new_addresses = (modified.get("status") or {}).get("addresses") or []
    replace_addresses = bool(old_addresses) and old_addresses != new_addresses
    if replace_addresses:
        target.setdefault("status", {})["addresses"] = old_addresses
    patch = two_way_merge_patch(original, target, NODE_STATUS_MERGE_KEYS)
    if replace_addresses:
        status = patch.setdefault("status", {})
        status["addresses"] = [*new_addresses, {"$patch": "replace"}]
    return patch
