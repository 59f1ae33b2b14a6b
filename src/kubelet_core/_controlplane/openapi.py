"""OpenAPI v2 and v3 built from the served types' schemas (``schema.SCHEMAS``).

kubectl (since 1.27) fetches ``/openapi/v3`` and the group-version document for the
object's GVK and looks for the PATCH operation tagged with
``x-kubernetes-group-version-kind``. If that operation lists the ``fieldValidation``
query parameter, kubectl leaves validation to the server (``fieldValidation=Strict``).
The request bodies deliberately do not advertise strategic merge patch, so ``kubectl
apply`` computes its patches from its own built-in Go types. ``kubectl explain`` reads the
definitions in ``components.schemas`` (found by their ``x-kubernetes-group-version-kind``).
What the v3 verifier cannot vouch for (``kind: List``) kubectl validates itself against
``/openapi/v2``, which it asks for as protobuf (``openapi_pb``); JSON is served otherwise.

Definitions are named as kube names them (``io.k8s.api.core.v1.PodSpec``); every named
``Struct`` of a schema becomes one, unnamed ones are inlined, FREE parts are ``{}`` (any
value). A type registered with ``schema.register`` appears here with no further work.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import (
    errors,
    jsonutil,
    schema,
    schemas,  # noqa: F401  (registers the served types)
)
from kubelet_core._controlplane.discovery import KUBE_VERSION
from kubelet_core._controlplane.openapi_pb import encode_document
from kubelet_core._controlplane.patch import MERGE_KEYS, PRIMITIVE_SETS
from kubelet_core._controlplane.resources import ALL, BY_GROUP_VERSION, BY_KEY, ResourceType

KubeObject = dict[str, Any]

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")
#: Any value (kubectl's models: Arbitrary; explain needs a non-empty schema to print).
FREE_SCHEMA: KubeObject = {"x-kubernetes-preserve-unknown-fields": True}
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2"


def definitions(ref_prefix: str, *, v3: bool = False) -> KubeObject:
    """All definitions of the registered types, with ``$ref`` under ``ref_prefix``.

    v3 wraps references in ``allOf`` as kube does (kubectl explain's templates expect it).
    """
    defs: KubeObject = {}

    def name_of(struct: schema.Struct) -> str:
        return f"{struct.package or schema.CORE}.{struct.go_name}"

    def convert(node: Any, field: str = "") -> KubeObject:
        if isinstance(node, schema.Scalar):
            named = NAMED_SCALARS.get(node)
            if named is not None:
                name, v2_body, v3_body = named
                defs.setdefault(name, v3_body if v3 else v2_body)
                ref = {"$ref": ref_prefix + name}
                return {"allOf": [ref]} if v3 else ref
            out: KubeObject = {"type": node.type}
            if node.format:
                out["format"] = node.format
            return out
        if isinstance(node, schema.ListOf):
            out = {"type": "array", "items": convert(node.item)}
            out.update(_list_extensions(node, field))
            return out
        if isinstance(node, schema.MapOf):
            return {"type": "object", "additionalProperties": convert(node.value)}
        if isinstance(node, schema.Struct):
            if not node.go_name:
                return struct_body(node)
            name = name_of(node)
            if name not in defs:
                defs[name] = {}  # reserve first: schemas may refer to themselves
                defs[name] = struct_body(node)
            ref = {"$ref": ref_prefix + name}
            return {"allOf": [ref], "default": {}} if v3 else ref
        return dict(FREE_SCHEMA)

    def struct_body(node: schema.Struct) -> KubeObject:
        return {
            "type": "object",
            "properties": {key: convert(sub, key) for key, sub in node.items()},
        }

    for type_key, top in schema.SCHEMAS.items():
        rt = BY_KEY.get(type_key)
        if rt is None:
            continue
        body = struct_body(top)
        body["x-kubernetes-group-version-kind"] = _gvk(rt)
        defs[f"{schema.definition_package(rt)}.{top.go_name or rt.kind}"] = body
    return defs


_APIMACHINERY = "io.k8s.apimachinery.pkg"
#: Scalars kube defines once and refers to (kubectl explain prints their names:
#: ``<Quantity>``, ``<IntOrString>``, ``<Time>``): definition name, v2 and v3 bodies.
NAMED_SCALARS: dict[schema.Scalar, tuple[str, KubeObject, KubeObject]] = {
    schema.QUANTITY: (
        f"{_APIMACHINERY}.api.resource.Quantity",
        {"type": "string"},
        {"oneOf": [{"type": "string"}, {"type": "number"}]},
    ),
    schema.INT_OR_STRING: (
        f"{_APIMACHINERY}.util.intstr.IntOrString",
        {"type": "string", "format": "int-or-string"},
        {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    ),
    schema.TIME: (
        f"{_APIMACHINERY}.apis.meta.v1.Time",
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date-time"},
    ),
    schema.MICRO_TIME: (
        f"{_APIMACHINERY}.apis.meta.v1.MicroTime",
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date-time"},
    ),
}


def _list_extensions(node: schema.ListOf, field: str) -> KubeObject:
    """kube's list markers as its OpenAPI extensions (``x-kubernetes-list-type``...)."""
    out: KubeObject = {}
    if node.list_type:
        out["x-kubernetes-list-type"] = node.list_type
    if node.map_keys:
        out["x-kubernetes-list-map-keys"] = list(node.map_keys)
    if node.merge_key:
        out["x-kubernetes-patch-merge-key"] = node.merge_key
    if node.strategy:
        out["x-kubernetes-patch-strategy"] = node.strategy
    if not (node.list_type or node.merge_key or node.strategy):  # a table without markers
        if field in MERGE_KEYS and isinstance(node.item, schema.Struct):
            out["x-kubernetes-patch-merge-key"] = MERGE_KEYS[field]
            out["x-kubernetes-patch-strategy"] = "merge"
        elif field in PRIMITIVE_SETS:
            out["x-kubernetes-patch-strategy"] = "merge"
    return out


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
        "components": {"schemas": definitions("#/components/schemas/", v3=True)},
    }


def v2_document() -> KubeObject:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": {},
        "definitions": definitions("#/definitions/"),
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
        v2 = v2_document()
        self._v2_json = jsonutil.dumps(v2)
        self._v2_pb = encode_document(v2)
        self._v2_etag = hashlib.sha512(self._v2_json).hexdigest().upper()[:128]
        self._root = jsonutil.dumps(
            {
                "paths": {
                    key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._hashes[key]}"}
                    for key in self._docs
                }
            }
        )

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        if path == "/openapi/v2":
            headers = {"Etag": f'"{self._v2_etag}"', "Vary": "Accept"}
            if V2_PROTOBUF in request.headers.get("Accept", ""):
                return web.Response(
                    body=self._v2_pb,
                    headers={**headers, "Content-Type": f"{V2_PROTOBUF}.v1.0+protobuf"},
                )
            return web.Response(
                body=self._v2_json, content_type="application/json", headers=headers
            )
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
