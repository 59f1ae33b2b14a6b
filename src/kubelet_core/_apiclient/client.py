"""A thin async Kubernetes client: raw JSON over aiohttp, one rate limit, one error type.

Why not the generated ``kubernetes_asyncio`` API classes: deserializing a
``V1Pod`` into models costs ~500 µs, forty times a ``json.loads``, and the
agent handles every pod on every watch event.  ``kubernetes_asyncio`` is used
only for what it does well -- reading a kubeconfig (contexts, inline or file
certificates, exec/token plugins) into a ``Configuration`` -- and this module
builds the TLS context and auth headers from that.

Every request, including the opening of a watch, first takes a token from a
client-side :class:`TokenBucket` (kubelet's ``--kube-api-qps``/``--kube-api-burst``,
50/100).  Paths are raw API paths (``/api/v1/namespaces/ns/pods/x``), bodies
and answers are plain dicts.  Each finished request is reported to observers
(the agent's Prometheus metrics) as ``(verb, resource, code, seconds)``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kubelet_core._apiclient.errors import ApiError, ApiUnreachable
from kubelet_core._apiclient.ratelimit import TokenBucket

KubeObject = dict[str, Any]
AuthHeaders = Callable[[], Awaitable[dict[str, str]]]
RequestObserver = Callable[[str, str, int, float], None]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def resource_of(path: str) -> str:
    """The resource a path addresses, for metrics: ``pods``, ``pods/status``, ``leases``."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["api"]:
        parts = parts[2:]
    elif parts[:1] == ["apis"]:
        parts = parts[3:]
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        parts = parts[2:]
    if not parts:
        return "unknown"
    return f"{parts[0]}/{parts[2]}" if len(parts) >= 3 else parts[0]


def _error_from(status: int, reason: str, payload: bytes) -> ApiError:
    body: dict[str, Any] = {}
    message = payload.decode("utf-8", "replace")[:500]
    try:
        decoded = json.loads(payload) if payload else {}
        if isinstance(decoded, dict):
            body = decoded
            message = str(body.get("message", message))
            reason = str(body.get("reason") or reason)
    except ValueError:
        pass
    return ApiError(status, reason, message, body)


class KubeApi:
    """Async client of one API server.  Create with :meth:`from_kubeconfig`; ``close()`` it."""

    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        auth_headers: AuthHeaders | None = None,
        qps: float = 50.0,
        burst: int = 100,
        request_timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        if self.base_url.startswith("http://"):
            self._ssl = False
        self._auth_headers = auth_headers
        self.limiter = TokenBucket(qps, burst)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, sock_connect=10)
        self._session: aiohttp.ClientSession | None = None
        #: Watches hold a connection each for minutes: they get a pool of their own,
        #: unbounded, so many watches (a node's ConfigMaps, many nodes in one process)
        #: never take the connections ordinary requests wait for.
        self._watch_session: aiohttp.ClientSession | None = None
        self._observers: list[RequestObserver] = []
        self._closed = False
        #: Set on faces made by :meth:`with_rate_limit`: they share this client's session.
        self._owner: KubeApi | None = None

    # -- construction --------------------------------------------------------

    @classmethod
    async def from_kubeconfig(
        cls, path: Path | None, *, qps: float = 50, burst: int = 100, context: str | None = None
    ) -> KubeApi:
        """Load a kubeconfig.

        ``None`` means the in-cluster config inside a pod, else ``$KUBECONFIG``
        or ``~/.kube/config``.
        """
        from kubernetes_asyncio import config as kconfig
        from kubernetes_asyncio.client import Configuration

        configuration = Configuration()
        if path is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config_file = str(path) if path is not None else os.environ.get("KUBECONFIG")
            await kconfig.load_kube_config(
                config_file=config_file,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        return cls(
            str(configuration.host),
            ssl_context=_ssl_context(configuration),
            auth_headers=_auth_headers(configuration),
            qps=qps,
            burst=burst,
        )

    def with_rate_limit(self, qps: float, burst: int) -> KubeApi:
        """The same client (connection pool, credentials) with its own limit and observers.

        kubelet rate-limits Events separately (``--event-qps``/``--event-burst``)
        so a burst of Events never spends the budget of status writes; this is
        that second face.  Close only the original.
        """
        face = copy.copy(self)
        face.limiter = TokenBucket(qps, burst)
        face._owner = self
        # Its own observers from here on (the ones registered so far included): the
        # nodes of a fleet each observe their own requests, not every node's.
        face._observers = list(self._observers)
        return face

    def use_client_certificate(self, cert_file: Path, key_file: Path | None = None) -> None:
        """Authenticate new connections with another certificate (a rotated one).

        The TLS context is reloaded in place: connections already open finish
        their requests with the certificate they were opened with, new ones
        present the new certificate, so no request is lost in the switch.
        """
        if not isinstance(self._ssl, ssl.SSLContext):
            raise RuntimeError("this client does not use TLS client certificates")
        self._ssl.load_cert_chain(str(cert_file), str(key_file or cert_file))

    def add_observer(self, observer: RequestObserver) -> None:
        """Call ``observer(verb, resource, code, seconds)`` after every request."""
        self._observers.append(observer)

    def remove_observer(self, observer: RequestObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    # -- plumbing ------------------------------------------------------------

    def _get_session(self, *, watch: bool = False) -> aiohttp.ClientSession:
        if self._owner is not None:
            return self._owner._get_session(watch=watch)
        if self._closed:
            raise ApiUnreachable("the API client is closed")
        if watch:
            if self._watch_session is None or self._watch_session.closed:
                connector = aiohttp.TCPConnector(limit=0, ssl=self._ssl)
                self._watch_session = aiohttp.ClientSession(connector=connector)
            return self._watch_session
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=64, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "wasmlet/0.1"}
        if content_type:
            headers["Content-Type"] = content_type
        if self._auth_headers is not None:
            headers.update(await self._auth_headers())
        return headers

    def _observe(self, verb: str, path: str, code: int, started: float) -> None:
        if not self._observers:
            return
        elapsed = time.monotonic() - started
        resource = resource_of(path)
        for observer in self._observers:
            try:
                observer(verb, resource, code, elapsed)
            except Exception:  # metrics must never break a request
                pass

    # -- requests ------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> KubeObject:
        """Send one request and return the decoded answer; raise :class:`ApiError` otherwise."""
        payload = await self.request_bytes(
            method, path, params=params, body=body, content_type=content_type
        )
        if not payload:
            return {}
        decoded = orjson.loads(payload)
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> bytes:
        """Like :meth:`request`, for answers that are not JSON (``pods/log``)."""
        method = method.upper()
        data: bytes | None = None
        if body is not None:
            data = orjson.dumps(body)
            if content_type is None:
                content_type = MERGE_PATCH if method == "PATCH" else "application/json"
        await self.limiter.acquire()
        session = self._get_session()
        headers = await self._headers(content_type)
        started = time.monotonic()
        try:
            async with session.request(
                method,
                self.base_url + path,
                params=_query(params),
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                payload = await response.read()
                status = response.status
                reason = response.reason or ""
        except _TRANSPORT_ERRORS as error:
            self._observe(method, path, 0, started)
            raise ApiUnreachable(f"{method} {path}: {type(error).__name__}: {error}") from error
        self._observe(method, path, status, started)
        if not 200 <= status < 300:
            raise _error_from(status, reason, payload)
        return payload

    async def watch(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[KubeObject]:
        """Yield watch events ``{"type", "object"}`` until the server ends the stream.

        ``ERROR`` events (e.g. 410 Gone for a too-old resourceVersion) are
        yielded like the others; :func:`watch_error` turns one into an
        :class:`ApiError`.  A watch the server refuses outright raises.
        ``on_open`` is called once the server has accepted the watch.
        """
        query = dict(params or {})
        query["watch"] = "true"
        server_timeout = float(query.get("timeoutSeconds", 300))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=server_timeout + 30)
        await self.limiter.acquire()
        session = self._get_session(watch=True)
        headers = await self._headers(None)
        started = time.monotonic()
        try:
            async with session.get(
                self.base_url + path, params=_query(query), headers=headers, timeout=timeout
            ) as response:
                self._observe("WATCH", path, response.status, started)
                if response.status != 200:
                    raise _error_from(response.status, response.reason or "", await response.read())
                if on_open is not None:
                    on_open()
                buffer = bytearray()
                async for chunk in response.content.iter_any():
                    buffer.extend(chunk)
                    while (end := buffer.find(b"\n")) >= 0:
                        line = bytes(buffer[:end])
                        del buffer[: end + 1]
                        if line.strip():
                            yield _decode_event(line)
                if buffer.strip():
                    yield _decode_event(bytes(buffer))
        except _TRANSPORT_ERRORS as error:
            raise ApiUnreachable(f"watch {path}: {type(error).__name__}: {error}") from error

    # -- helpers -------------------------------------------------------------

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> KubeObject:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, body: KubeObject) -> KubeObject:
        return await self.request("POST", path, body=body)

    async def replace(self, path: str, body: KubeObject) -> KubeObject:
        return await self.request("PUT", path, body=body)

    async def patch(self, path: str, body: Any, *, content_type: str = MERGE_PATCH) -> KubeObject:
        return await self.request("PATCH", path, body=body, content_type=content_type)

    async def update_status(self, path: str, body: KubeObject) -> KubeObject:
        """PUT a whole object to ``<path>/status`` (optimistic: 409 if it changed)."""
        return await self.request("PUT", path.rstrip("/") + "/status", body=body)

    async def delete(
        self,
        path: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> KubeObject:
        options: KubeObject = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            options["preconditions"] = {"uid": uid}
        return await self.request("DELETE", path, body=options)

    async def close(self) -> None:
        self._closed = True
        if self._owner is not None:
            return  # a face of another client: the session is the owner's to close
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    async def __aenter__(self) -> KubeApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _decode_event(line: bytes) -> KubeObject:
    event = orjson.loads(line)
    if not isinstance(event, dict):
        raise ApiError(500, "BadWatchEvent", f"watch event is not an object: {line[:200]!r}")
    return event


def watch_error(event: KubeObject) -> ApiError | None:
    """The error an ``ERROR`` watch event carries (410 Expired...), else None."""
    if event.get("type") != "ERROR":
        return None
    raw = event.get("object")
    status: KubeObject = raw if isinstance(raw, dict) else {}
    return ApiError(
        int(status.get("code") or 500),
        str(status.get("reason") or "WatchError"),
        str(status.get("message") or "watch error"),
        status,
    )


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _ssl_context(configuration: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _auth_headers(configuration: Any) -> AuthHeaders:
    """Headers from the kubeconfig's token/basic auth (refreshed per call by exec plugins)."""

    async def headers() -> dict[str, str]:
        settings = await configuration.auth_settings()
        result: dict[str, str] = {}
        for item in settings.values():
            if item.get("in") == "header" and item.get("value"):
                result[str(item["key"])] = str(item["value"])
        return result

    return headers
