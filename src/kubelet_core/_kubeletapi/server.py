"""The kubelet API: the HTTPS server on port 10250 that ``kubectl logs`` and metrics-server reach.

One aiohttp application, one middleware for authentication and authorization
(:mod:`kubelet_core._kubeletapi.auth`) in front of every route, and handlers
that each delegate to one module: logs to :mod:`.logs`, usage to :mod:`.stats`
and :mod:`.resource_metrics`.  The routes are kubelet's:

=============================================  ===================================
``/healthz``                                    ``ok``
``/pods``                                       the pods the provider holds (PodList)
``/containerLogs/{namespace}/{pod}/{ctr}``      the container's log, streamed
``/stats/summary``                              ``stats/v1alpha1`` Summary
``/metrics/resource``                           metrics-server's Prometheus series
``/metrics``                                    the agent's own Prometheus registry
``/exec``, ``/attach``, ``/portForward``, ``/run``  501 ``Status``, before any upgrade
=============================================  ===================================

The server binds only where told (``port=0`` picks a free port, read back from
:attr:`KubeletApiServer.port`).  It accepts connections through
:mod:`.connections`: at most ``limits.max_connections`` at once, the TLS
handshake and first request within ``limits.request_header_timeout``,
kept-alive connections closed after ``limits.idle_timeout``, and a request
that fails authentication answered 401 with ``Connection: close``.  aiohttp
cancels a handler whose client went away (``handler_cancellation``), which is
what ends a ``kubectl logs -f`` stream's provider iterator when the user
presses Ctrl-C.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from kubelet_core._kubeletapi import auth, logs, stats, tls
from kubelet_core._kubeletapi.connections import ConnectionGate, ConnectionLimits
from kubelet_core._kubeletapi.resource_metrics import render_resource_metrics
from kubelet_core._provider.base import KubeObject, Provider

log = structlog.get_logger(__name__)

#: Returns the full pod objects the agent runs on this node (for ``/pods``).
PodsSource = Callable[[], Awaitable[list[KubeObject]]]


class KubeletApiServer:
    """Serves the kubelet API for one node over HTTPS."""

    def __init__(
        self,
        provider: Provider,
        *,
        node_name: str,
        host: str,
        port: int,
        cert_dir: Path,
        client_ca_file: Path | None,
        api: auth.ReviewApi | None,
        anonymous_auth: bool = False,
        metrics_registry: CollectorRegistry | None = None,
        tls_cert_file: Path | None = None,
        tls_key_file: Path | None = None,
        pods_source: PodsSource | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        if (tls_cert_file is None) != (tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        self._provider = provider
        self._node_name = node_name
        self._host = host
        self._requested_port = port
        self._cert_dir = cert_dir
        self._client_ca_file = client_ca_file
        self._tls_files = (tls_cert_file, tls_key_file)
        self._registry = metrics_registry if metrics_registry is not None else REGISTRY
        self._pods_source = pods_source
        self._authenticator = auth.Authenticator(api, anonymous=anonymous_auth)
        self._authorizer = auth.Authorizer(api)
        self._cpu = stats.CpuRateTracker()
        self._limits = limits if limits is not None else ConnectionLimits()
        self._runner: web.AppRunner | None = None
        self._context: ssl.SSLContext | None = None
        self._gate: ConnectionGate | None = None
        self._streams: set[asyncio.Task[object]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}:{self.port}"

    @property
    def serving_cert_file(self) -> Path:
        cert, _ = self._serving_files()
        return cert

    def _serving_files(self) -> tuple[Path, Path]:
        cert, key = self._tls_files
        if cert is not None and key is not None:
            return cert, key
        return tls.ensure_self_signed(self._cert_dir, self._node_name, self._host)

    async def start(self) -> None:
        if self._runner is not None:
            return
        cert, key = self._serving_files()
        self._context = context = tls.server_context(cert, key, self._client_ca_file)
        stats.measure_node(self._cpu)  # first CPU sample, so the first summary has a rate
        runner = web.AppRunner(
            self._app(),
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=self._limits.idle_timeout,
        )
        await runner.setup()
        assert runner.server is not None
        gate = ConnectionGate(runner.server, context, self._limits)
        try:
            port = await gate.listen(self._host, self._requested_port)
        except BaseException:
            await gate.close()
            await runner.cleanup()
            raise
        self._runner, self._gate = runner, gate
        self.port = port
        log.info(
            "kubelet API serving", url=self.url, node=self._node_name, max_connections=gate.cap
        )

    def use_certificate(self, cert_file: Path, key_file: Path | None = None) -> None:
        """Serve new connections with another certificate (a rotated or issued one);
        connections already open keep theirs until they close."""
        if self._context is None:
            raise RuntimeError("the kubelet API is not serving")
        self._context.load_cert_chain(str(cert_file), str(key_file or cert_file))
        self._tls_files = (cert_file, key_file or cert_file)
        log.info("kubelet API serving certificate loaded", path=str(cert_file))

    @property
    def connections(self) -> ConnectionGate | None:
        """The connection gate while serving (open connections, counters)."""
        return self._gate

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        gate, self._gate = self._gate, None
        # Followed logs never end by themselves: end them now rather than after aiohttp's
        # shutdown timeout.
        for task in list(self._streams):
            task.cancel()
        if gate is not None:
            gate.stop_listening()
        if runner is not None:
            await runner.cleanup()
        if gate is not None:
            await gate.close()  # handshakes in progress, and any TLS close left hanging

    async def __aenter__(self) -> KubeletApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the application ----------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/pods", self._pods)
        app.router.add_get("/stats/summary", self._summary)
        app.router.add_get("/metrics/resource", self._resource_metrics)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        for streaming in ("exec", "attach", "portForward", "run"):
            app.router.add_route("*", f"/{streaming}/{{rest:.*}}", self._not_implemented)
        return app

    def _peer_certificate(self, request: web.Request) -> tuple[str, list[str]] | None:
        if self._client_ca_file is None or request.transport is None:
            return None
        ssl_object = request.transport.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return None
        # With CERT_OPTIONAL, a certificate that is here was verified by the handshake.
        der = ssl_object.getpeercert(binary_form=True)
        return tls.peer_identity(der) if der else None

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self._gate is not None:
            self._gate.request_started(request.transport)
        try:
            user = await self._authenticator.authenticate(
                self._peer_certificate(request), request.headers.get("Authorization")
            )
        except auth.AuthError as error:
            log.warning("kubelet API authentication failed", error=str(error))
            user = None
        if user is None:
            refused = web.HTTPUnauthorized(text="Unauthorized")
            refused.force_close()  # no kept-alive connection for an unauthenticated peer
            raise refused
        attrs = auth.request_attributes(request.method, request.path, self._node_name)
        try:
            decision = await self._authorizer.authorize(user, attrs)
        except auth.AuthError as error:
            log.warning("kubelet API authorization failed", error=str(error))
            failed = web.HTTPInternalServerError(
                text=f"Authorization error ({attrs.describe(user)})"
            )
            failed.force_close()
            raise failed from None
        if not decision.allowed:
            # Closed too: a peer with a valid but unprivileged token must not be able to
            # hold the connection cap with kept-alive connections it cannot use.
            forbidden = web.HTTPForbidden(text=f"Forbidden ({attrs.describe(user)})")
            forbidden.force_close()
            raise forbidden
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _pods(self, request: web.Request) -> web.Response:
        if self._pods_source is not None:
            items = await self._pods_source()
        else:
            items = []
            for key in await self._provider.list_pods():
                pod: KubeObject = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"namespace": key.namespace, "name": key.name, "uid": key.uid},
                    "spec": {"nodeName": self._node_name},
                }
                status = await self._provider.get_pod_status(pod)
                if status is not None:
                    pod["status"] = status
                items.append(pod)
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        )

    async def _measure(self) -> tuple[stats.NodeUsage, list[stats.MeasuredPod]]:
        node = stats.measure_node(self._cpu)
        pod_stats: list[stats.PodStats] = []
        if isinstance(self._provider, stats.StatsProvider):
            try:
                pod_stats = await self._provider.pod_stats()
            except Exception as error:  # a provider bug must not take node stats down
                log.warning("provider pod_stats failed", error=repr(error))
        return node, stats.measure_pods(pod_stats, self._cpu)

    async def _summary(self, request: web.Request) -> web.Response:
        node, pods = await self._measure()
        now = datetime.datetime.now(datetime.UTC)
        return web.json_response(stats.summary_json(self._node_name, node, pods, now))

    async def _resource_metrics(self, request: web.Request) -> web.Response:
        node, pods = await self._measure()
        body = render_resource_metrics(node, pods, datetime.datetime.now(datetime.UTC))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        try:
            return await logs.stream_container_logs(request, self._provider)
        finally:
            if task is not None:
                self._streams.discard(task)

    async def _not_implemented(self, request: web.Request) -> web.Response:
        """Refuse a stream before upgrading, as kubelet refuses one its runtime cannot serve.

        kubelet answers such a request with an error status and the reason in
        the body, without switching protocols; kube-apiserver relays a backend's
        non-101 answer to the client as it is, and kubectl's SPDY and WebSocket
        clients decode a ``Status`` body into the error they print.  The body
        is a ``Status`` (not plain text: a reason with a colon in it would
        decode as YAML into an empty Status, and kubectl would print only
        ``Error from server:``).
        """
        what = request.path.split("/")[1]
        message = refusal(what, self._node_name)
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "NotImplemented",
            "code": 501,
        }
        return web.json_response(body, status=501, headers={"Connection": "close"})


#: What each streaming endpoint would reach, for the refusal's wording.
_STREAM_TARGETS = {
    "exec": ("exec", "run a command in"),
    "attach": ("attach", "attach to"),
    "portForward": ("port-forward", "forward ports to"),
    "run": ("run", "run a command in"),
}


def refusal(endpoint: str, node_name: str) -> str:
    """Why a streaming request (``exec``, ``attach``, ``portForward``, ``run``) is refused."""
    verb, target = _STREAM_TARGETS.get(endpoint, (endpoint, "reach"))
    return (
        f"{verb} is not supported by node {node_name}: "
        f"wasm pods have no interactive process to {target}"
    )
