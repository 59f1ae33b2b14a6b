"""A minimal OpenAPI v3 surface: enough for kubectl to validate and apply without flags.

kubectl (since 1.27) fetches ``/openapi/v3`` and the group-version document for the
object's GVK and looks for the PATCH operation tagged with
``x-kubernetes-group-version-kind``. If that operation lists the ``fieldValidation``
query parameter, kubectl leaves validation to the server (``fieldValidation=Strict``)
instead of downloading full schemas. The request bodies deliberately do not advertise
strategic merge patch, so ``kubectl apply`` computes its patches from its own built-in
Go types (the same ones the real server's schemas describe) rather than from schemas we
would have to reproduce in full. /openapi/v2 stays 404, which kubectl tolerates.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import errors, jsonutil
from kubelet_core._controlplane.discovery import KUBE_VERSION
from kubelet_core._controlplane.resources import ALL, BY_GROUP_VERSION, ResourceType

KubeObject = dict[str, Any]

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _gvk(rt: ResourceType) -> list[KubeObject]:
    return [{"group": rt.group, "version": rt.version, "kind": rt.kind}]


def _operation(
    rt: ResourceType, verb: str, op_id: str, *, patch: bool = False, body: bool = False
) -> KubeObject:
    op: KubeObject = {
        "operationId": op_id,
        "description": f"{verb} the specified {rt.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": _gvk(rt)[0],
        "responses": {"200": {"description": "OK"}},
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
            for name in _QUERY_PARAMS
        ],
    }
    if patch:
        op["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": {"type": "object"}}
                for media in ("application/json-patch+json", "application/merge-patch+json")
            },
        }
    elif body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return op


def group_version_document(group: str, version: str) -> KubeObject | None:
    types = BY_GROUP_VERSION.get((group, version))
    if types is None:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: KubeObject = {}
    for rt in types.values():
        name = rt.kind
        scope = (
            f"{prefix}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else f"{prefix}/{rt.plural}"
        )
        paths[scope] = {
            "get": _operation(rt, "list", f"list{name}"),
            "post": _operation(rt, "post", f"create{name}", body=True),
        }
        paths[f"{scope}/{{name}}"] = {
            "get": _operation(rt, "get", f"read{name}"),
            "put": _operation(rt, "put", f"replace{name}", body=True),
            "patch": _operation(rt, "patch", f"patch{name}", patch=True),
            "delete": _operation(rt, "delete", f"delete{name}"),
        }
        if "status" in rt.subresources:
            paths[f"{scope}/{{name}}/status"] = {
                "get": _operation(rt, "get", f"read{name}Status"),
                "put": _operation(rt, "put", f"replace{name}Status", body=True),
                "patch": _operation(rt, "patch", f"patch{name}Status", patch=True),
            }
    title = "Kubernetes"
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }


class OpenAPI:
    def __init__(self) -> None:
        self._docs: dict[str, bytes] = {}
        for rt in ALL:
            key = f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"
            if key not in self._docs:
                doc = group_version_document(rt.group, rt.version)
                assert doc is not None
                self._docs[key] = jsonutil.dumps(doc)
        self._hashes = {
            k: hashlib.sha512(v).hexdigest().upper()[:128] for k, v in self._docs.items()
        }
        self._root = jsonutil.dumps(
            {
                "paths": {
                    key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._hashes[key]}"}
                    for key in self._docs
                }
            }
        )

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        if path == "/openapi/v3":
            return web.Response(body=self._root, content_type="application/json")
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/") :]
            data = self._docs.get(key)
            if data is not None:
                return web.Response(
                    body=data,
                    content_type="application/json",
                    headers={
                        "Etag": f'"{self._hashes[key]}"',
                        "Cache-Control": "public, immutable"
                        if request.query.get("hash")
                        else "no-cache, private",
                    },
                )
        exc = errors.not_found_path()
        return web.Response(body=exc.body(), status=404, content_type="application/json")
