"""NodeRestriction admission: a node writes only its own Node, Lease and pods' statuses.

The Node authorizer lets ``system:node:*`` users write nodes, pods/status, leases and
token requests at all; this check (kube's ``plugin/pkg/admission/noderestriction``)
narrows each write to the requesting node's own objects, with kube's messages. It
runs after authorization, before the registry, for users that are nodes only.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import PODS
from kubelet_core._controlplane.store import Store

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _forbidden(info: RequestInfo, name: str, why: str) -> ApiError:
    what = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    return ApiError(
        403,
        "Forbidden",
        f'{what} "{name}" is forbidden: {why}',
        {"name": name, "kind": info.resource},
    )


def _body_name(body: Any) -> str:
    meta = body.get("metadata") if isinstance(body, dict) else None
    return str((meta or {}).get("name") or "") if isinstance(meta, dict) else ""


def admit(node: str, info: RequestInfo, body: Any, store: Store) -> None:
    """Raise a 403 ApiError when node ``node`` may not make this write."""
    if not info.is_resource or info.verb in ("get", "list", "watch"):
        return
    if info.api_group == "" and info.resource == "nodes":
        name = info.name or _body_name(body)
        if name != node:
            raise _forbidden(info, name, f'node "{node}" is not allowed to modify node "{name}"')
    elif info.api_group == "coordination.k8s.io" and info.resource == "leases":
        name = info.name or _body_name(body)
        if name != node:
            raise _forbidden(
                info, name, "can only access node lease with the same name as the requesting node"
            )
    elif info.api_group == "" and info.resource == "pods":
        _admit_pod(node, info, body, store)
    elif (
        info.api_group == "" and info.resource == "serviceaccounts" and info.subresource == "token"
    ):
        _admit_token_request(node, info, body, store)


def _admit_pod(node: str, info: RequestInfo, body: Any, store: Store) -> None:
    if info.verb == "create" and not info.name:
        name = _body_name(body)
        meta = (body.get("metadata") or {}) if isinstance(body, dict) else {}
        spec = (body.get("spec") or {}) if isinstance(body, dict) else {}
        if MIRROR_ANNOTATION not in (meta.get("annotations") or {}):
            raise _forbidden(
                info,
                name,
                f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only '
                "create mirror pods",
            )
        if spec.get("nodeName") != node:
            raise _forbidden(
                info, name, f'node "{node}" can only create pods with spec.nodeName set to itself'
            )
        return
    entry = store.get(PODS, info.namespace, info.name)
    if entry is None:
        return  # the registry answers 404
    bound = (entry.obj.get("spec") or {}).get("nodeName")
    if bound == node:
        return
    action = {"status": "update pod status for", "eviction": "evict"}.get(
        info.subresource, "delete" if info.verb == "delete" else "modify"
    )
    raise _forbidden(
        info, info.name, f'node "{node}" can only {action} pods with spec.nodeName set to itself'
    )


def _admit_token_request(node: str, info: RequestInfo, body: Any, store: Store) -> None:
    spec = (body.get("spec") or {}) if isinstance(body, dict) else {}
    ref = spec.get("boundObjectRef") or {}
    if ref.get("kind") != "Pod":
        raise _forbidden(info, info.name, "node requested token not bound to a pod")
    if not ref.get("uid"):
        raise _forbidden(info, info.name, "node requested token with a pod binding without a uid")
    entry = store.get(PODS, info.namespace, str(ref.get("name") or ""))
    if entry is None or entry.obj["metadata"].get("uid") != ref["uid"]:
        return  # TokenRequest itself answers for a missing or replaced pod
    if (entry.obj.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(
            info, info.name, "node requested token bound to a pod scheduled on a different node"
        )
