"""The three PATCH formats: JSON merge patch, strategic merge patch and JSON patch.

Strategic merge needs to know which lists merge by a key. kube-apiserver reads that from
Go struct tags; here a table maps the list fields of the served types (containers by
name, ports by containerPort, conditions by type, ...) to their merge key, which is what
``kubectl apply``, ``label`` and ``annotate`` and node agents patching status rely on.
The directives kubectl emits are honoured: ``$patch: replace|delete|merge``,
``$setElementOrder/<field>``, ``$deleteFromPrimitiveList/<field>`` and ``$retainKeys``.
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
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
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
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key), value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in PRIMITIVE_SETS:
            existing = result.get(key)
            current: list[Any] = existing if isinstance(existing, list) else []
            result[key] = current + [v for v in value if v not in current]
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain or k in patch}
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _reorder(result[field], order, MERGE_KEYS.get(field))
    return result


def _merge_list(original: Any, patch: list[Any], merge_key: str) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = list(original) if isinstance(original, list) else []
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            result.append(item)
            continue
        key = item[merge_key]
        index = next(
            (
                n
                for n, cur in enumerate(result)
                if isinstance(cur, dict) and cur.get(merge_key) == key
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            merged = strategic_merge({}, item)
            if merged is not _DELETE:
                result.append(merged)
        else:
            merged = strategic_merge(result[index], item)
            if merged is _DELETE:
                del result[index]
            else:
                result[index] = merged
    return result


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        if merge_key and isinstance(item, dict):
            return item.get(merge_key)
        return item

    wanted = [ident(o) for o in order]
    rank = {w: n for n, w in enumerate(wanted) if isinstance(w, str | int | float)}
    listed = [i for i in items if ident(i) in rank]
    rest = [i for i in items if ident(i) not in rank]
    listed.sort(key=lambda i: rank[ident(i)])
    return listed + rest


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
