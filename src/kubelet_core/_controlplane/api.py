"""HTTP handlers: routes REST paths to the registry and encodes responses.

One catch-all handler parses Kubernetes paths itself (``/api/v1/namespaces/{ns}/{plural}/
{name}/{subresource}``, cluster-scoped and ``/apis/{group}/{version}`` forms, and the
legacy ``/watch/`` prefix), because the path grammar is regular and this is cheaper and
clearer than dozens of aiohttp routes. Lists are assembled from each object's cached
JSON bytes, so serving 1,000 pods does no per-object encoding.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import (
    discovery,
    errors,
    events_v1,
    jsonutil,
    protobuf,
    schemas,  # noqa: F401  (registers the served types)
)
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.eviction import evict
from kubelet_core._controlplane.openapi import OpenAPI
from kubelet_core._controlplane.patch import patcher
from kubelet_core._controlplane.registry import DeleteOptions, Registry
from kubelet_core._controlplane.resources import (
    EVENTS,
    EVENTS_V1,
    NAMESPACES,
    PODS,
    ResourceType,
    lookup,
)
from kubelet_core._controlplane.schema import prune
from kubelet_core._controlplane.selectors import Filter
from kubelet_core._controlplane.store import Store
from kubelet_core._controlplane.tables import TableRenderer
from kubelet_core._controlplane.watch import WatchRequest, add_warnings, serve_watch
from kubelet_core._controlplane.workloads import scale

KubeObject = dict[str, Any]
JSON = "application/json"
#: kube-apiserver's MaxRequestBodyBytes: 3 MiB (etcd's object limit is about half of it).
MAX_BODY = 3 * 1024 * 1024
log = logging.getLogger(__name__)
LogHandler = Callable[[web.Request, KubeObject], Awaitable[web.StreamResponse]]
#: pods/{exec,attach,portforward}: (request, pod, subresource) -> the kubelet's answer.
StreamHandler = Callable[[web.Request, KubeObject, str], Awaitable[web.StreamResponse]]
TokenIssuer = Callable[[str, str, Any], KubeObject]
#: ``(user, request info, body or None)``: raises ApiError to refuse a write.
Admit = Callable[[Any, Any, Any], None]


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str
    subresource: str
    legacy_watch: bool


def json_response(data: bytes, status: int = 200) -> web.Response:
    return web.Response(body=data, status=status, content_type=JSON)


def obj_response(obj: KubeObject, status: int = 200) -> web.Response:
    return json_response(jsonutil.dumps(obj), status)


def error_response(exc: ApiError) -> web.Response:
    return json_response(exc.body(), exc.code)


def parse_target(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    rt = lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        return None
    if namespace is not None and not rt.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in rt.subresources:
        return None
    if rt.namespaced and name and namespace is None:
        return None
    return Target(rt, namespace, name, sub, legacy_watch)


class Api:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        bookmark_interval: float,
        server_address: str,
        log_handler: LogHandler | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.bookmark_interval = bookmark_interval
        self.server_address = server_address
        self.log_handler = log_handler
        self.tables = TableRenderer()
        # serviceaccounts/{name}/token: (namespace, name, TokenRequest) -> TokenRequest
        self.token_issuer: TokenIssuer | None = None
        # Admission (NodeRestriction, CSR requester and approval checks), before writes.
        self.admit: Admit | None = None
        # Validating admission of the object as it will be stored (RBAC escalation checks):
        # the body of a create or update, the result of a patch.
        self.admit_object: Admit | None = None
        self.stream_handler: StreamHandler | None = None
        # APIGroup entries served by routes outside this handler (metrics.k8s.io).
        self.extra_groups: list[KubeObject] = []
        self.openapi = OpenAPI()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return error_response(exc)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            return error_response(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        simple = self._simple(path)
        if simple is not None:
            if request.method != "GET":
                raise errors.method_not_allowed(request.method, "")
            return obj_response(simple)
        if path.startswith("/openapi/"):
            return await self.openapi.handle(request, path)
        target = parse_target(path)
        if target is None:
            raise errors.not_found_path()
        # kube-apiserver wraps every verb's handler of a deprecated type in its warnings
        # handler: answers, errors the handler raises and watch streams all carry it.
        deprecation = [target.rt.deprecation] if target.rt.deprecation else []
        try:
            response = await self._resource(request, target, deprecation)
        except ApiError as exc:
            return _warn(error_response(exc), deprecation)
        if isinstance(response, web.Response) and deprecation:
            # First, as kube's wrapper records it before the handler's own warnings.
            later = response.headers.getall("Warning", [])
            response.headers.popall("Warning", None)
            _warn(response, deprecation)
            for value in later:
                response.headers.add("Warning", value)
        return response

    def _simple(self, path: str) -> KubeObject | None:
        if path == "/api":
            return discovery.api_versions(self.server_address)
        if path == "/apis":
            groups = discovery.api_group_list()
            for entry in self.extra_groups:
                groups["groups"].append(
                    {k: v for k, v in entry.items() if k not in ("kind", "apiVersion")}
                )
            return groups
        if path == "/version":
            return discovery.version()
        if path == "/api/v1":
            return discovery.resource_list("", "v1")
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(parts[1])
            return group if group["versions"] else None
        if parts[0] == "apis" and len(parts) == 3:
            return discovery.resource_list(parts[1], parts[2])
        return None

    # -- resources -------------------------------------------------------------------------
    async def _resource(
        self, request: web.Request, t: Target, warnings: list[str]
    ) -> web.StreamResponse:
        if t.rt is EVENTS_V1:
            return await self._events_v1(request, t)
        method = request.method
        query = request.query
        if t.legacy_watch or (not t.name and is_true(query.get("watch"))):
            if method != "GET" or (t.name and not t.legacy_watch):
                raise errors.method_not_allowed(method, t.rt.plural)
            return await self._watch(request, t, warnings)
        if not t.name:
            if method == "GET":
                return self._list(request, t)
            if method == "POST":
                if t.rt.namespaced and t.namespace is None:
                    raise errors.method_not_allowed(method, t.rt.plural)
                body = await self._body(request)
                self._admit(request, body)
                self._admit_object(request, body)
                warnings = _check_fields(request, t.rt, body)
                obj = await self.registry.create(
                    t.rt, t.namespace or "", body, dry_run=_dry_run(query)
                )
                return _warn(self._object(request, t.rt, obj, 201), warnings)
            if method == "DELETE":
                return await self._delete_collection(request, t)
            raise errors.method_not_allowed(method, t.rt.plural)
        ns = t.namespace or ""
        if t.subresource == "binding":
            if method != "POST":
                raise errors.method_not_allowed(method, "pods/binding")
            binding = await self._body(request)
            self._admit(request, binding)
            await self.registry.bind(ns, t.name, binding)
            return obj_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                },
                201,
            )
        if t.subresource == "token":
            if method != "POST" or self.token_issuer is None:
                raise errors.method_not_allowed(method, "serviceaccounts/token")
            body = await self._body(request)
            self._admit(request, body)
            return obj_response(self.token_issuer(ns, t.name, body), 201)
        if t.subresource == "eviction":
            if method != "POST":
                raise errors.method_not_allowed(method, "pods/eviction")
            body = await self._body(request)
            self._admit(request, body)
            await evict(self.registry, ns, t.name, body)
            return obj_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                },
                201,
            )
        if t.subresource == "log":
            pod = self.registry.get(PODS, ns, t.name).obj
            if self.log_handler is None:
                raise ApiError(
                    503,
                    "ServiceUnavailable",
                    "pod logs are not available: no kubelet log proxy is configured",
                )
            return await self.log_handler(request, pod)
        if t.subresource in ("exec", "attach", "portforward") and t.rt is PODS:
            if method not in ("GET", "POST"):
                raise errors.method_not_allowed(method, f"pods/{t.subresource}")
            pod = self.registry.get(PODS, ns, t.name).obj
            if self.stream_handler is None:
                raise ApiError(503, "ServiceUnavailable", "no kubelet proxy is configured")
            return await self.stream_handler(request, pod, t.subresource)
        if t.subresource == "scale":
            return await self._scale(request, t, ns)
        if t.subresource not in ("", "status", "finalize", "approval"):
            raise errors.method_not_allowed(method, f"{t.rt.plural}/{t.subresource}")
        if method == "GET":
            entry = self.registry.read(t.rt, ns, t.name)
            return self._entry(request, t.rt, entry.obj, entry.data)
        if method == "PUT":
            body = await self._body(request)
            self._admit(request, body)
            self._admit_object(request, body)
            warnings = _check_fields(request, t.rt, body)
            sub = {"status": "status", "finalize": "status", "approval": "approval"}.get(
                t.subresource, ""
            )
            obj = await self.registry.update(
                t.rt, ns, t.name, body, subresource=sub, dry_run=_dry_run(query)
            )
            return _warn(self._object(request, t.rt, obj), warnings)
        if method == "PATCH":
            body = await self._body(request)
            self._admit(request, None)
            patch = patcher(request.headers.get("Content-Type", ""), body)
            patch_warnings: list[str] = []

            def apply(current: KubeObject) -> KubeObject:
                patched = patch(current)
                self._admit_object(request, patched)
                patch_warnings.extend(_check_fields(request, t.rt, patched))
                return patched

            obj = await self.registry.patch(
                t.rt, ns, t.name, apply, subresource=t.subresource, dry_run=_dry_run(query)
            )
            return _warn(self._object(request, t.rt, obj), patch_warnings)
        if method == "DELETE":
            body = await self._body(request, optional=True)
            self._admit(request, None)
            options = DeleteOptions(body if isinstance(body, dict) else None, dict(query))
            obj = await self.registry.delete(t.rt, ns, t.name, options)
            return self._object(request, t.rt, obj)
        raise errors.method_not_allowed(method, t.rt.plural)

    async def _scale(self, request: web.Request, t: Target, ns: str) -> web.StreamResponse:
        if request.method == "GET":
            return obj_response(scale.read_scale(self.registry, t.rt, ns, t.name))
        if request.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(request.method, f"{t.rt.plural}/scale")
        body = await self._body(request)
        self._admit(request, body)
        change = (
            (lambda _current: body)
            if request.method == "PUT"
            else patcher(request.headers.get("Content-Type", ""), body)
        )
        return obj_response(await scale.write_scale(self.registry, t.rt, ns, t.name, change))

    async def _events_v1(self, request: web.Request, t: Target) -> web.StreamResponse:
        """events.k8s.io/v1: the core Events, converted on the way in and out."""
        core = Target(EVENTS, t.namespace, t.name, t.subresource, t.legacy_watch)
        query = request.query
        method = request.method
        if "fieldSelector" in query:
            mapped = dict(query)
            mapped["fieldSelector"] = events_v1.field_selector_to_core(query["fieldSelector"])
            request = request.clone(rel_url=request.rel_url.with_query(mapped))
        if t.legacy_watch or (not t.name and is_true(query.get("watch"))):
            if method != "GET":
                raise errors.method_not_allowed(method, EVENTS_V1.plural)

            def convert(_kind: str, obj: KubeObject, data: bytes) -> bytes:
                if obj.get("kind") != EVENTS.kind:  # bookmarks
                    return data.replace(b'"apiVersion":"v1"', b'"apiVersion":"events.k8s.io/v1"')
                return jsonutil.dumps(events_v1.from_core(obj))

            wr = WatchRequest(EVENTS, self._filter(request, core), query)
            return await serve_watch(
                request, self.store, wr, bookmark_interval=self.bookmark_interval, transform=convert
            )
        ns = t.namespace or ""
        dry_run = _dry_run(query)
        if not t.name and method == "GET":
            listed = jsonutil.loads(self._list(request, core).body)  # type: ignore[arg-type]
            listed["apiVersion"] = EVENTS_V1.api_version
            listed["items"] = [events_v1.from_core(item) for item in listed["items"]]
            return obj_response(listed)
        if not t.name and method == "POST":
            if t.namespace is None:
                raise errors.method_not_allowed(method, EVENTS_V1.plural)
            body = await self._body(request)
            self._admit(request, body)
            warnings = _check_fields(request, EVENTS_V1, body)
            obj = await self.registry.create(EVENTS, ns, events_v1.to_core(body), dry_run=dry_run)
            return _warn(obj_response(events_v1.from_core(obj), 201), warnings)
        if not t.name:
            raise errors.method_not_allowed(method, EVENTS_V1.plural)
        if method == "GET":
            return obj_response(events_v1.from_core(self.registry.read(EVENTS, ns, t.name).obj))
        if method == "PUT":
            body = await self._body(request)
            self._admit(request, body)
            warnings = _check_fields(request, EVENTS_V1, body)
            obj = await self.registry.update(
                EVENTS, ns, t.name, events_v1.to_core(body), dry_run=dry_run
            )
            return _warn(obj_response(events_v1.from_core(obj)), warnings)
        if method == "PATCH":
            body = await self._body(request)
            self._admit(request, None)
            patch = patcher(request.headers.get("Content-Type", ""), body)

            def apply(current: KubeObject) -> KubeObject:
                patched = patch(events_v1.from_core(current))
                _check_fields(request, EVENTS_V1, patched)
                converted: KubeObject = events_v1.to_core(patched)
                return converted

            obj = await self.registry.patch(EVENTS, ns, t.name, apply, dry_run=dry_run)
            return obj_response(events_v1.from_core(obj))
        if method == "DELETE":
            body = await self._body(request, optional=True)
            self._admit(request, None)
            options = DeleteOptions(body if isinstance(body, dict) else None, dict(query))
            obj = await self.registry.delete(EVENTS, ns, t.name, options)
            return obj_response(events_v1.from_core(obj))
        raise errors.method_not_allowed(method, EVENTS_V1.plural)

    def _admit(self, request: web.Request, body: Any) -> None:
        if self.admit is not None:
            self.admit(request.get("user"), request.get("request_info"), body)

    def _admit_object(self, request: web.Request, obj: Any) -> None:
        if self.admit_object is not None:
            self.admit_object(request.get("user"), request.get("request_info"), obj)

    async def _body(self, request: web.Request, *, optional: bool = False) -> Any:
        if (request.content_length or 0) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        try:
            raw = await request.read()  # chunked bodies have no Content-Length
        except web.HTTPRequestEntityTooLarge as exc:
            raise errors.too_large(MAX_BODY) from exc
        if len(raw) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        if not raw:
            if optional:
                return None
            raise errors.bad_request("the request body is empty")
        ctype = request.headers.get("Content-Type", "")
        if "protobuf" in ctype:
            return protobuf.decode(raw)
        if "cbor" in ctype:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f'include: application/json, application/yaml (got "{ctype}")',
            )
        try:
            if "yaml" in ctype:
                import yaml  # type: ignore[import-untyped,unused-ignore]

                return yaml.safe_load(raw)
            return jsonutil.loads(raw)
        except ValueError as exc:
            raise errors.bad_request(
                f"the body of the request could not be decoded: {exc}"
            ) from exc

    def _object(
        self, request: web.Request, rt: ResourceType, obj: KubeObject, status: int = 200
    ) -> web.Response:
        return self._entry(request, rt, obj, jsonutil.dumps(obj), status)

    def _entry(
        self,
        request: web.Request,
        rt: ResourceType,
        obj: KubeObject,
        data: bytes,
        status: int = 200,
    ) -> web.Response:
        if self.tables.wants_table(request):
            return obj_response(self.tables.table(request, rt, [obj], str(self.store.rv)), status)
        return json_response(data, status)

    def _filter(self, request: web.Request, t: Target) -> Filter:
        query = request.query
        namespace = t.namespace if t.rt.namespaced else None
        flt = Filter(
            namespace,
            query.get("labelSelector", ""),
            query.get("fieldSelector", ""),
            t.rt.field_labels,
            t.rt.kind,
        )
        if t.name:  # legacy /watch/namespaces/x/pods/name
            flt.fields.append((("metadata", "name"), True, t.name))
        return flt

    def _list(self, request: web.Request, t: Target) -> web.Response:
        flt = self._filter(request, t)
        rv = self.store.rv
        entries = [
            e
            for e in self.store.entries(t.rt, flt.namespace)
            if (not flt.labels and not flt.fields) or flt(e.obj)
        ]
        query = request.query
        limit = int(query.get("limit") or 0)
        cont = query.get("continue", "")
        next_token = ""
        remaining = None
        if limit or cont:
            entries.sort(
                key=lambda e: (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"])
            )
            if cont:
                start_key, rv_at = _decode_continue(cont)
                if rv_at < self.store.oldest_rv(t.rt):
                    raise errors.gone(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter, "
                        "or use the continue token in this response to retrieve the remainder "
                        "of the results. Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, or deleted "
                        "between the time the first chunk was returned and now may show up in "
                        "the list."
                    )
                rv = rv_at
                entries = [
                    e
                    for e in entries
                    if (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"])
                    > start_key
                ]
            if limit and len(entries) > limit:
                remaining = len(entries) - limit
                entries = entries[:limit]
                last = entries[-1].obj["metadata"]
                next_token = _encode_continue((last.get("namespace", ""), last["name"]), rv)
        if self.tables.wants_table(request):
            table = self.tables.table(request, t.rt, [e.obj for e in entries], str(rv))
            if next_token:
                table["metadata"]["continue"] = next_token
            return obj_response(table)
        meta: KubeObject = {"resourceVersion": str(rv)}
        if next_token:
            meta["continue"] = next_token
            meta["remainingItemCount"] = remaining
        head = jsonutil.dumps(
            {"kind": t.rt.list_kind, "apiVersion": t.rt.api_version, "metadata": meta}
        )
        body = head[:-1] + b',"items":[' + b",".join(e.data for e in entries) + b"]}"
        return json_response(body)

    async def _watch(
        self, request: web.Request, t: Target, warnings: list[str]
    ) -> web.StreamResponse:
        wr = WatchRequest(t.rt, self._filter(request, t), request.query)
        transform = None
        if self.tables.wants_table(request):
            transform = self.tables.watch_transform(request, t.rt)
        return await serve_watch(
            request,
            self.store,
            wr,
            bookmark_interval=self.bookmark_interval,
            transform=transform,
            warnings=warnings,
        )

    async def _delete_collection(self, request: web.Request, t: Target) -> web.Response:
        if t.rt is NAMESPACES:
            raise errors.method_not_allowed("DELETE", "namespaces")
        flt = self._filter(request, t)
        body = await self._body(request, optional=True)
        options = DeleteOptions(body if isinstance(body, dict) else None, dict(request.query))
        items = []
        for entry in list(self.store.entries(t.rt, flt.namespace)):
            if not flt(entry.obj):
                continue
            meta = entry.obj["metadata"]
            try:
                items.append(
                    await self.registry.delete(
                        t.rt, meta.get("namespace", ""), meta["name"], options
                    )
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return obj_response(
            {
                "kind": t.rt.list_kind,
                "apiVersion": t.rt.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": items,
            }
        )


TRUE_VALUES = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def is_true(value: str | None) -> bool:
    """Go's strconv.ParseBool truth (clients send "true", "1" or Python's "True")."""
    return value in TRUE_VALUES


def _check_fields(request: web.Request, rt: ResourceType, body: Any) -> list[str]:
    """Prune unknown fields as the real decoder does; Strict fails, Warn warns."""
    if not isinstance(body, dict):
        return []
    unknown = prune(rt, body)
    if not unknown:
        return []
    mode = request.query.get("fieldValidation", "Warn")
    if mode == "Strict":
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {listed}"
        )
    if mode == "Ignore":
        return []
    return [f'unknown field "{path}"' for path in unknown]


def _warn(response: web.Response, warnings: list[str]) -> web.Response:
    add_warnings(response, warnings)
    return response


def _dry_run(query: Any) -> bool:
    return bool(query.get("dryRun"))


def _encode_continue(key: tuple[str, str], rv: int) -> str:
    raw = jsonutil.dumps({"ns": key[0], "name": key[1], "rv": rv})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[tuple[str, str], int]:
    try:
        data = jsonutil.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(data["ns"]), str(data["name"])), int(data["rv"])
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request("continue key is not valid") from exc
