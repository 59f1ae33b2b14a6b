"""The three PATCH formats: JSON merge patch, strategic merge patch and JSON patch.

Strategic merge needs to know which lists merge by a key. kube-apiserver reads that from
Go struct tags; here a table maps the list fields of the served types (containers by
name, ports by containerPort, conditions by type, ...) to their merge key, which is what
``kubectl apply``, ``label`` and ``annotate`` and node agents patching status rely on.
The directives kubectl emits are honoured: ``$patch: replace|delete|merge``,
``$setElementOrder/<field>``, ``$deleteFromPrimitiveList/<field>`` and ``$retainKeys``.
Merged lists come out in apimachinery's order (mergeSlice, normalizeElementOrder): the
elements a patch or ``$setElementOrder`` names in its order, the others at their live
place between them, and an element new to the list placed as soon as it is reached, so
a bare ``kubectl patch`` adding a container puts it first, as on a real cluster.
Server-side apply is refused with 415, as it is not implemented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonpatch

from kubelet_core._controlplane import errors
from kubelet_core._controlplane.errors import ApiError

KubeObject = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# list field name -> merge key, for the types this server stores.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "conditions": "type",
    "addresses": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "secrets": "name",
    "readinessGates": "conditionType",
}
# Lists of scalars that merge as sets.
PRIMITIVE_SETS = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_DELETE = object()


def strategic_merge(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return _DELETE
    result = dict(original) if isinstance(original, dict) else {}
    # Lists with a $setElementOrder are merged and ordered first, as kube's
    # mergePatchIntoOriginal does; the main loop then leaves them alone.
    ordered: set[str] = set()
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(value, list):
            field = key.split("/", 1)[1]
            ordered.add(field)
            merged = _merge_with_order(result.get(field), patch.get(field), value, field)
            if merged is not None:
                result[field] = merged
    for key, value in patch.items():
        if key in ordered:
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list([], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in PRIMITIVE_SETS:
            existing = result.get(key)
            result[key] = _merge_set(existing if isinstance(existing, list) else [], value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain or k in patch}
    return result


def _ident(item: Any, merge_key: str | None) -> Any:
    """What identifies a list element: its merge key's value, or a scalar itself."""
    if merge_key is not None:
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def _position(order: list[Any], item: Any, merge_key: str | None) -> int:
    """kube's index(): where ``item`` is in ``order``, -1 if it is not."""
    wanted = _ident(item, merge_key)
    for n, candidate in enumerate(order):
        if _ident(candidate, merge_key) == wanted:
            return n
    return -1


def _sorted_by(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """normalizeSliceOrder: a stable sort by position in ``order`` (every item is in it
    where kube calls this; one that is not keeps its place after those that are)."""
    found = [i for i in items if _position(order, i, merge_key) >= 0]
    found.sort(key=lambda i: _position(order, i, merge_key))
    return found + [i for i in items if _position(order, i, merge_key) < 0]


def _interleave(
    server_only: list[Any], patched: list[Any], server_order: list[Any], merge_key: str | None
) -> list[Any]:
    """kube's mergeSortedSlice: both lists keep their own order; a server-only element
    goes before the next patched one only when both are in the live list and it came
    first there, so an element the patch adds is placed as soon as it is reached, ahead
    of the server-only elements that follow (the kubectl patch docs show an added
    container landing before the one already there)."""
    merged: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            merged.append(server_only[i])
            i += 1
            continue
        if i < len(server_only):
            left = _position(server_order, server_only[i], merge_key)
            right = _position(server_order, patched[j], merge_key)
            if left >= 0 and right >= 0 and left < right:
                merged.append(server_only[i])
                i += 1
                continue
        merged.append(patched[j])
        j += 1
    return merged


def _normalize(
    merged: list[Any],
    by: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str | None,
) -> list[Any]:
    """Split ``merged`` into the elements ``by`` names and the rest, sort each (by
    ``patch_order`` and ``server_order``) and interleave them (normalizeElementOrder)."""
    patched = [m for m in merged if _position(by, m, merge_key) >= 0]
    server_only = [m for m in merged if _position(by, m, merge_key) < 0]
    return _interleave(
        _sorted_by(server_only, server_order, merge_key),
        _sorted_by(patched, patch_order, merge_key),
        server_order,
        merge_key,
    )


def _merge_set(original: list[Any], patch: list[Any]) -> list[Any]:
    """A merging list of scalars (finalizers): the union, ordered as kube orders it."""
    union: list[Any] = []
    for value in original + patch:
        if value not in union:
            union.append(value)
    return _normalize(union, patch, patch, original, None)


def _merge_with_order(
    original: Any, patch_list: Any, order: list[Any], field: str
) -> list[Any] | None:
    """A list with ``$setElementOrder/<field>``: merged as without it, then the elements
    the directive names in its order, interleaved with the others by their live order."""
    merge_key = MERGE_KEYS.get(field)
    live = original if isinstance(original, list) else None
    patched = patch_list if isinstance(patch_list, list) else None
    if live is None and patched is None:
        return None
    if live is not None and patched is not None:
        if merge_key is not None:
            merged = _merge_list(live, patched, merge_key)
        elif field in PRIMITIVE_SETS:
            merged = _merge_set(live, patched)
        else:
            merged = list(patched)  # not a merging list: the patch's value
    elif live is not None:
        merged = list(live)
    else:
        assert patched is not None
        merged = [i for i in patched if not (isinstance(i, dict) and "$patch" in i)]
    return _normalize(merged, order, order, live or [], merge_key)


def _merge_list(original: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """mergeSlice for a list of maps: directives first (``$patch: delete`` drops every
    element with that key, ``replace`` keeps only the patch's), then each patch element
    merged into the element of its key or added, then kube's order."""
    live = list(original)
    plain: list[Any] = []
    replace = False
    for item in patch:
        marker = item.get("$patch") if isinstance(item, dict) else None
        if marker == "delete":
            live = [o for o in live if _ident(o, merge_key) != item.get(merge_key)]
        elif marker == "replace":
            replace = True
        elif marker is None:
            plain.append(item)
    if replace:
        live, plain = [strategic_merge({}, i) for i in plain], []
    merged = list(live)
    for item in plain:
        if not isinstance(item, dict) or merge_key not in item:
            merged.append(item)
            continue
        index = next(
            (n for n, cur in enumerate(merged) if _ident(cur, merge_key) == item[merge_key]),
            None,
        )
        if index is None:
            merged.append(strategic_merge({}, item))
        else:
            merged[index] = strategic_merge(merged[index], item)
    return _normalize(merged, plain, plain, live, merge_key)


#: kube answers a JSON patch that does not apply (a failed ``test`` included) with 422 and
#: this generic text (NewGenericServerResponse for 422), not with 409.
JSON_PATCH_FAILED = "the server rejected our request due to an error in our request"


def json_patch(target: KubeObject, operations: Any) -> KubeObject:
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else "string"
        raise errors.bad_request(
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch"
        )
    try:
        result: KubeObject = jsonpatch.apply_patch(target, operations)
    except (
        jsonpatch.JsonPatchException,  # JsonPatchTestFailed among them
        jsonpatch.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        raise ApiError(422, "Invalid", JSON_PATCH_FAILED) from exc
    return result


def patcher(content_type: str, body: Any) -> Callable[[KubeObject], KubeObject]:
    """Return a function applying the patch ``body`` of ``content_type`` to an object."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        return lambda obj: json_patch(obj, body)
    if media == APPLY_PATCH:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "server-side apply (application/apply-patch+yaml) is not supported by "
            "this control plane; use client-side apply (kubectl apply without "
            "--server-side)",
        )
    if not isinstance(body, dict):
        raise errors.bad_request("the patch must be a JSON object")
    if media == MERGE_PATCH:
        return lambda obj: merge_patch(obj, body)
    if media == STRATEGIC_PATCH:

        def apply(obj: KubeObject) -> KubeObject:
            result = strategic_merge(obj, body)
            if result is _DELETE:
                raise errors.bad_request("a patch cannot delete the whole object")
            merged: KubeObject = result
            return merged

        return apply
    raise errors.unsupported_media_type(content_type)
