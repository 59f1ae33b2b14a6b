"""NodeAgent: one Kubernetes node, run by a provider.  The composition root.

The agent wires the pieces; each mechanism lives in its own module and knows
nothing of the others:

* ``_node.registration`` / ``_node.status`` / ``_node.lease`` -- the Node
  object, its conditions (on change and every 60 s) and the Lease heartbeat;
* ``_pods.watcher`` -> ``_pods.sync`` (one worker per pod; ``_pods.admission``
  first: does the pod fit the node's allocatable?) -> the provider;
* the provider -> ``_pods.status`` (coalescing status writer) -> the API;
* ``_pods.events`` -- the rate-limited, aggregating event recorder;
* ``_observability`` -- a Prometheus registry per agent;
* ``_kubeletapi`` -- the kubelet HTTPS API (logs, stats, ``/metrics``) on
  ``identity.ip:kubelet_api.port``; the port it bound (the library's default
  0 picks a free one) is what the Node advertises.

Each long-running part is a controller of one shape (``_lifecycle``:
``run(stopping)``, ``ready``, errors raise), run by one :class:`Supervisor`:
a controller that fails stops the agent, and the error comes out of
:meth:`NodeAgent.run` (or :meth:`NodeAgent.start`).

``start()`` returns once the node is registered, the provider started,
dangling provider pods cleaned up and the pod watch established.  ``stop()``
is idempotent and bounded by ``shutdown.grace_period_seconds``, in the order
a watcher of the Node wants: the node is marked NotReady first (one status
write), then pods are stopped per policy (drained, stopped, or left running
for the next agent), statuses flushed, the controllers and the provider
stopped, the client closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, pod_path
from kubelet_core._config import NodeConfig
from kubelet_core._kubeletapi import ConnectionLimits, KubeletApiServer, client_ca_from_kubeconfig
from kubelet_core._lifecycle import (
    LoopController,
    ServiceController,
    ShutdownSignals,
    Supervisor,
)
from kubelet_core._node import (
    HostInfo,
    LeaseController,
    NodeDescription,
    NodeStatusReporter,
    register_node,
)
from kubelet_core._node.bootstrap import (
    bootstrap_client_certificate,
    client_rotation,
    serving_rotation,
)
from kubelet_core._node.certificates import CertificateFiles
from kubelet_core._node.rotation import CertificateRotation
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import (
    KubeEventRecorder,
    PodAdmission,
    PodStatusWriter,
    PodSyncer,
    PodWatcher,
    podutil,
)
from kubelet_core._pods.informer import SharedPodInformer
from kubelet_core._provider.base import KubeObject, Provider, ProviderContext

log = structlog.get_logger(__name__)

#: The Ready condition's message while stopping (kubelet says "node is shutting down").
SHUTDOWN_MESSAGE = "wasmlet is shutting down"


class AgentStopped(RuntimeError):
    """``start()`` was interrupted by ``stop()``."""


class _ForeverController:
    """A run-forever coroutine (stopped by cancelling it) as a controller."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        ready: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        #: Given: the work sets it (a watch once open); else ready once running.
        self.ready = ready if ready is not None else asyncio.Event()
        self._ready_when_running = ready is None
        self._work = work

    async def run(self, stopping: asyncio.Event) -> None:
        if self._ready_when_running:
            self.ready.set()
        work = asyncio.ensure_future(self._work())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if not stopping.is_set():
            work.result()  # raises what it raised; a clean return is "stopped by itself"


class NodeAgent:
    """Registers a node and runs the pods bound to it through ``provider``."""

    def __init__(
        self,
        provider: Provider,
        config: NodeConfig,
        *,
        api: KubeApi | None = None,
        pod_informer: SharedPodInformer | None = None,
    ):
        if not isinstance(config, NodeConfig):
            raise TypeError(
                f"config must be a kubelet_core.NodeConfig, not {type(config).__name__}"
            )
        self.provider = provider
        self.config = config
        self.node_name = config.node_name
        self.metrics = AgentMetrics()
        #: The kubelet endpoint port written to the Node: the one the kubelet
        #: API server bound (``kubelet_api.port`` 0 picks a free one).
        self.advertised_port = config.kubelet_api.port
        self._api = api
        self._owns_api = api is None
        #: Many nodes in one process share one pod watch (:class:`NodeFleet`).
        self._pod_informer = pod_informer
        self.kubelet_api: KubeletApiServer | None = None
        self.node: KubeObject = {}
        self.controllers = Supervisor(f"node {self.node_name}")
        self._stopped = asyncio.Event()
        self._start_task: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._provider_started = False
        self._started = False
        # Built by start():
        self.description: NodeDescription | None = None
        self.events: KubeEventRecorder | None = None
        self.statuses: PodStatusWriter | None = None
        self.syncer: PodSyncer | None = None
        self.watcher: PodWatcher | None = None
        self.lease: LeaseController | None = None
        self.node_status: NodeStatusReporter | None = None
        #: The rotations of the node's certificates, when it renews them itself.
        self.client_certificate: CertificateRotation | None = None
        self.serving_certificate: CertificateRotation | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise RuntimeError("the agent has not started")
        return self._api

    @property
    def node_uid(self) -> str:
        return str((self.node.get("metadata") or {}).get("uid") or "")

    # -- lifecycle -----------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> None:
        """Start, then run until :meth:`stop`, a signal or a failed controller.

        With ``handle_signals`` the first SIGTERM/SIGINT stops the agent
        gracefully and a second one cuts the stop short.  Cancelling ``run()``
        stops gracefully too.  A controller's failure stops the agent and is
        raised here (:class:`~kubelet_core._lifecycle.ControllerFailed`).
        """
        if not handle_signals:
            await self._run()
            return
        async with ShutdownSignals() as signals:
            on_signal = asyncio.ensure_future(self._stop_on(signals.requested))
            try:
                await self._run()
            except asyncio.CancelledError:
                if not signals.forced:
                    raise
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                log.warning("second signal: stopped without waiting", node=self.node_name)
            finally:
                on_signal.cancel()

    async def _stop_on(self, requested: asyncio.Event) -> None:
        await requested.wait()
        log.info("signal received, stopping", node=self.node_name)
        await self.stop()

    async def _run(self) -> None:
        try:
            try:
                await self.start()
            except AgentStopped:
                return
            except Exception:
                await self.stop()
                raise
            failed = asyncio.ensure_future(self.controllers.failed.wait())
            stopped = asyncio.ensure_future(self._stopped.wait())
            try:
                await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                failed.cancel()
                stopped.cancel()
            if self.controllers.error is not None:
                await self.stop()
                raise self.controllers.error
        except asyncio.CancelledError:
            if self._stop_task is not None and not self._stop_task.done():
                self._stop_task.cancel()  # a stop already runs: cut it short
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._stop_task
            else:
                with contextlib.suppress(Exception):
                    await self.stop()
            raise

    async def start(self) -> None:
        if self._start_task is None:
            self._start_task = asyncio.ensure_future(self._start())
        try:
            await asyncio.shield(self._start_task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if (
                self._start_task.cancelled()
                and self._stop_task is not None
                and (current is None or not current.cancelling())
            ):
                raise AgentStopped("the agent was stopped before it finished starting") from None
            raise

    async def stop(self, *, drain: bool | None = None) -> None:
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._shutdown(drain))
        await asyncio.shield(self._stop_task)

    async def __aenter__(self) -> NodeAgent:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- starting ------------------------------------------------------------

    async def _start(self) -> None:
        config = self.config
        if self._api is None:
            if config.api.bootstrap_kubeconfig is not None:
                assert config.kubeconfig is not None
                await bootstrap_client_certificate(
                    self.node_name,
                    kubeconfig=config.kubeconfig,
                    bootstrap_kubeconfig=config.api.bootstrap_kubeconfig,
                    pki_dir=config.pki_dir,
                )
            self._api = await KubeApi.from_kubeconfig(
                config.kubeconfig, qps=config.api.qps, burst=config.api.burst
            )
            if config.api.rotate_certificates:
                rotation = client_rotation(
                    self.node_name, config.kubeconfig, config.pki_dir, self._api
                )
                if rotation is not None:
                    self.client_certificate = rotation
                    self.controllers.start(LoopController("client-certificate", rotation.run))
        api = self._api
        api.add_observer(self.metrics.observe_request)
        await asyncio.to_thread(config.node_dir.mkdir, parents=True, exist_ok=True)
        if config.kubelet_api.enabled:
            await self._start_kubelet_api(api)
        profile = self.provider.node_profile()
        host = await asyncio.to_thread(HostInfo.measure, config.data_dir)
        self.description = description = NodeDescription.build(config, profile, host)
        description.port = self.advertised_port

        async def reregister() -> KubeObject:
            self.node = await register_node(api, description)
            return self.node

        await reregister()
        log.info("node registered", node=self.node_name, uid=self.node_uid)
        # Built as soon as the node exists, so a stop at any later moment can mark it
        # NotReady (a node registered Ready must never be left so by a stopped agent).
        heartbeat = config.heartbeat
        self.node_status = NodeStatusReporter(
            api,
            description,
            config.data_dir,
            report_interval=heartbeat.node_status_report_frequency_seconds,
            check_interval=min(
                heartbeat.lease_renew_interval_seconds,
                heartbeat.node_status_report_frequency_seconds,
                10.0,
            ),
            reregister=reregister,
        )

        events_api = api.with_rate_limit(config.api.event_qps, config.api.event_burst)
        self.events = events = KubeEventRecorder(
            events_api, node_name=self.node_name, metrics=self.metrics
        )

        async def stop_events() -> None:
            await events.flush(min(self._time_left(0.5), 2.0))
            await events.stop()

        self.controllers.start(ServiceController("events", start=events.start, stop=stop_events))
        if self.serving_certificate is not None:  # it announces a pending CSR as an Event
            self.controllers.start(
                LoopController("serving-certificate", self.serving_certificate.run)
            )
        self.statuses = statuses = PodStatusWriter(
            api, node_ip=config.identity.ip, metrics=self.metrics, lookup=self._cached_pod
        )
        self.syncer = PodSyncer(
            self.provider,
            api,
            statuses=statuses,
            record_event=events,
            lookup=self._cached_pod,
            admission=PodAdmission(
                description.allocatable, runtime_handlers=profile.runtime_handlers
            ),
        )
        self.watcher = watcher = PodWatcher(
            api,
            self.node_name,
            on_changed=self.syncer.changed,
            on_gone=self.syncer.gone,
            metrics=self.metrics,
            on_open=statuses.api_reachable,
            informer=self._pod_informer,
        )

        try:
            await self.node_status.report(force=True)
        except ApiError as error:
            log.warning("first node status write failed; the status loop retries", error=str(error))
        self.lease = LeaseController(
            api,
            self.node_name,
            duration_seconds=heartbeat.lease_duration_seconds,
            renew_interval=heartbeat.lease_renew_interval_seconds,
            node_uid=lambda: self.node_uid,
        )
        self.controllers.start(LoopController("lease", self.lease.run))
        self.controllers.start(LoopController("node-status", self.node_status.run))

        self._provider_started = True  # even a start that fails half-way is shut down
        await self.provider.start(self._provider_context(api, statuses, events))

        pods = await self._first_list(watcher)
        known = {podutil.pod_key(pod): pod for pod in pods}
        await self.syncer.delete_dangling(known)

        async def stop_statuses() -> None:
            await statuses.flush(self._time_left(0.5))
            await statuses.stop()

        self.controllers.start(
            ServiceController("pod-status-writer", start=statuses.start, stop=stop_statuses)
        )
        watcher.replace(pods)
        self.controllers.start(
            _ForeverController(
                "pod-watch", lambda: watcher.run(listed=True), ready=watcher.established
            )
        )
        period = heartbeat.sync_frequency_seconds
        self.controllers.start(_ForeverController("resync", lambda: watcher.resync_forever(period)))
        await self.controllers.wait_ready("pod-watch")
        self._started = True
        events(self.node, "Normal", "Starting", "Started wasmlet.")
        log.info("node agent started", node=self.node_name, pods=len(pods))

    def _provider_context(
        self, api: KubeApi, statuses: PodStatusWriter, events: KubeEventRecorder
    ) -> ProviderContext:
        return ProviderContext.from_config(
            self.config, api=api, notify_pod_status=statuses.notify, record_event=events
        )

    async def _start_kubelet_api(self, api: KubeApi) -> None:
        config = self.config
        settings = config.kubelet_api
        pki = config.pki_dir
        client_ca = settings.client_ca_file
        if client_ca is None and config.kubeconfig is not None:
            client_ca = await asyncio.to_thread(client_ca_from_kubeconfig, config.kubeconfig, pki)
        serving_cert, serving_key = settings.tls_cert_file, settings.tls_private_key_file
        if settings.rotate_server_certificates:
            issued = CertificateFiles(config.pki_dir, "server")
            if await asyncio.to_thread(issued.load) is not None:
                serving_cert = serving_key = issued.current
        self.kubelet_api = server = KubeletApiServer(
            self.provider,
            node_name=self.node_name,
            host=config.identity.ip,
            port=settings.port,
            cert_dir=pki,
            client_ca_file=client_ca,
            api=api,
            anonymous_auth=settings.anonymous_auth,
            tls_cert_file=serving_cert,
            tls_key_file=serving_key,
            metrics_registry=self.metrics.registry,
            pods_source=self._pods_for_kubelet_api,
            limits=ConnectionLimits(
                max_connections=settings.max_connections,
                request_header_timeout=settings.request_header_timeout_seconds,
                idle_timeout=settings.idle_timeout_seconds,
            ),
        )
        self.controllers.start(
            ServiceController("kubelet-api", start=server.start, stop=server.stop)
        )
        await self.controllers.wait_ready("kubelet-api")
        self.advertised_port = server.port
        if settings.rotate_server_certificates:
            self.serving_certificate = serving_rotation(
                self.node_name,
                config.identity.ip,
                config.pki_dir,
                api,
                on_rotated=server.use_certificate,
                on_pending=self._serving_certificate_pending,
            )

    def _serving_certificate_pending(self, csr: str) -> None:
        """Say, where an operator looks, that the serving certificate waits for a person."""
        command = f"kubectl certificate approve {csr}"
        log.warning(
            "the kubelet API's serving certificate waits for approval; it serves with a "
            "self-signed one meanwhile",
            csr=csr,
            command=command,
        )
        if self.events is not None and self.node:
            self.events(
                self.node,
                "Warning",
                "CertificateSigningRequestPending",
                f"The kubelet serving certificate waits for approval: {command}",
            )

    async def _pods_for_kubelet_api(self) -> list[KubeObject]:
        return list(self.watcher.cache.values()) if self.watcher is not None else []

    def _cached_pod(self, key: str) -> KubeObject | None:
        """The latest version of pod ``key`` seen by the watch (None if not ours)."""
        return self.watcher.cache.get(key) if self.watcher is not None else None

    async def _first_list(self, watcher: PodWatcher) -> list[KubeObject]:
        backoff = Backoff(0.2, 30.0)
        while True:
            self.controllers.raise_if_failed()
            try:
                return await watcher.list_pods()
            except ApiError as error:
                delay = backoff.next()
                log.warning(
                    "listing pods failed, retrying", error=str(error), retry_in=round(delay, 2)
                )
                await asyncio.sleep(delay)

    # -- stopping ------------------------------------------------------------

    _deadline = 0.0

    def _time_left(self, share: float = 1.0) -> float:
        """A share of what is left of the shutdown budget (at least 50 ms)."""
        loop = asyncio.get_running_loop()
        if not self._deadline:
            return 5.0  # not stopping: a service flushing on its own failure
        return max(0.05, (self._deadline - loop.time()) * share)

    async def _shutdown(self, drain: bool | None) -> None:
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + max(self.config.shutdown.grace_period_seconds, 2.0)
        left = self._time_left
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
            await asyncio.gather(self._start_task, return_exceptions=True)
        drain = self.config.shutdown.drain if drain is None else drain
        log.info("node agent stopping", node=self.node_name, drain=drain)
        controllers = self.controllers
        try:
            # 1. NotReady first: whoever watches the Node learns it at once.
            if self.node_status is not None and self.node:
                try:
                    async with asyncio.timeout(left(0.2)):
                        await self.node_status.mark_not_ready(SHUTDOWN_MESSAGE)
                except (ApiError, TimeoutError) as error:
                    log.warning("could not mark the node NotReady", error=str(error))
            await controllers.stop(["node-status"], timeout=left(0.1))
            # 2. Pods, per policy: evicted, stopped by the provider, or left running.
            if drain and self._started:
                await self._drain(left(0.6))
            await controllers.stop(["resync", "pod-watch", "lease"], timeout=left(0.1))
            if self.syncer is not None:
                await self.syncer.workers.stop(timeout=left(0.2))
            if self._provider_started:
                try:
                    async with asyncio.timeout(left(0.7)):
                        await self.provider.shutdown()
                except Exception:  # shutting down regardless
                    log.exception("provider shutdown failed", node=self.node_name)
            # 3. Flush what the pods and the agent said, then stop the rest.
            await controllers.stop(["pod-status-writer"], timeout=left(0.6))
            await controllers.stop(["kubelet-api", "events"], timeout=left(0.9))
        finally:
            await controllers.stop(timeout=0.5)
            if self._owns_api and self._api is not None:
                await self._api.close()
            if self._api is not None:
                self._api.remove_observer(self.metrics.observe_request)
            self._stopped.set()
            log.info("node agent stopped", node=self.node_name)

    async def _drain(self, timeout: float) -> None:
        """Evict our pods (their own grace period) and wait for the watch to see them go.

        The Eviction API is used so PodDisruptionBudgets are honoured (429: the
        pod stays); a server without it gets a plain DELETE.  The provider
        stops each pod through the ordinary deletion path of its worker.
        """
        assert self.watcher is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def evict(pod: KubeObject) -> None:
            metadata = podutil.meta(pod)
            namespace = str(metadata.get("namespace") or "default")
            path = pod_path(namespace, str(metadata.get("name")))
            uid = podutil.pod_uid(pod) or None
            eviction: KubeObject = {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": metadata.get("name"), "namespace": namespace},
                "deleteOptions": {"preconditions": {"uid": uid}} if uid else {},
            }
            try:
                try:
                    await self.api.create(path + "/eviction", eviction)
                except ApiError as error:
                    if error.status not in (404, 405):
                        raise
                    if (
                        error.status == 404
                        and error.reason == "NotFound"
                        and "eviction" not in error.message
                    ):
                        return  # the pod is gone already
                    await self.api.delete(path, uid=uid)
            except ApiError as error:
                if error.status not in (404, 409):
                    log.warning("eviction failed", pod=podutil.pod_key(pod), error=str(error))

        pods = list(self.watcher.cache.values())
        log.info("draining node", node=self.node_name, pods=len(pods))
        await asyncio.gather(*(evict(pod) for pod in pods))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.05, deadline - loop.time())):
                await self.watcher.empty.wait()
        if self.watcher.cache:
            log.warning("drain timed out", node=self.node_name, left=len(self.watcher.cache))


def run(provider: Provider, config: NodeConfig, *, handle_signals: bool = True) -> None:
    """Run a node agent for ``provider`` until SIGTERM/SIGINT (or a failure), in one call.

    The blocking face of :meth:`NodeAgent.run` for a program's ``main``: it
    owns the event loop (``asyncio.run``).  Inside a running loop, use
    ``await NodeAgent(provider, config).run(handle_signals=True)`` instead.
    """
    asyncio.run(NodeAgent(provider, config).run(handle_signals=handle_signals))
