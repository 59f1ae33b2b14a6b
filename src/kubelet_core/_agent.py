"""NodeAgent: one Kubernetes node, run by a provider.  The composition root.

The agent wires the pieces and owns their lifecycle; each mechanism lives in
its own module and knows nothing of the others:

* ``node.registration`` / ``node.status`` / ``node.lease`` -- the Node object,
  its conditions (on change and every 60 s) and the Lease heartbeat (10 s);
* ``pods.watcher`` -> ``pods.sync`` (one worker per pod; ``pods.admission``
  first: does the pod fit the node's allocatable?) -> the provider;
* the provider -> ``pods.status`` (coalescing status writer) -> the API;
* ``pods.events`` -- the rate-limited, aggregating event recorder;
* ``observability`` -- a Prometheus registry per agent;
* ``kubeletapi`` -- the kubelet HTTPS API (logs, stats, ``/metrics`` of that
  registry) on ``settings.node_ip:settings.port``; the port it really bound
  (``port: 0`` picks one) is what the Node advertises.

``start()`` returns once the node is registered, the provider started,
dangling provider pods cleaned up and the pod watch established.  ``stop()``
is idempotent and bounded by ``settings.shutdown_grace_period_seconds``:
drain if asked, stop the loops, flush statuses, mark the node NotReady, stop
the provider, close the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, pod_path
from kubelet_core._config.settings import NodeSettings
from kubelet_core._kubeletapi import ConnectionLimits, KubeletApiServer, client_ca_from_kubeconfig
from kubelet_core._node import (
    HostInfo,
    LeaseController,
    NodeDescription,
    NodeStatusReporter,
    register_node,
)
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import (
    KubeEventRecorder,
    PodAdmission,
    PodStatusWriter,
    PodSyncer,
    PodWatcher,
    podutil,
)
from kubelet_core._provider.base import KubeObject, LogPolicy, Provider, ProviderContext

log = structlog.get_logger(__name__)

SHUTDOWN_MESSAGE = "wasmlet is shutting down"


class AgentStopped(RuntimeError):
    """``start()`` was interrupted by ``stop()``."""


class NodeAgent:
    """Registers a node and runs the pods bound to it through ``provider``."""

    def __init__(
        self,
        provider: Provider,
        settings: NodeSettings,
        *,
        api: KubeApi | None = None,
        serve_kubelet_api: bool = True,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.node_name = settings.node_name
        self.metrics = AgentMetrics()
        #: The kubelet endpoint port written to the Node (the kubelet API server
        #: may set the port it actually bound before ``start()``).
        self.advertised_port = settings.port
        self._api = api
        self._owns_api = api is None
        self._serve_kubelet_api = serve_kubelet_api
        self.kubelet_api: KubeletApiServer | None = None
        self.node: KubeObject = {}
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._start_task: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._started = False
        # Built by start():
        self.description: NodeDescription | None = None
        self.events: KubeEventRecorder | None = None
        self.statuses: PodStatusWriter | None = None
        self.syncer: PodSyncer | None = None
        self.watcher: PodWatcher | None = None
        self.lease: LeaseController | None = None
        self.node_status: NodeStatusReporter | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise RuntimeError("the agent has not started")
        return self._api

    @property
    def node_uid(self) -> str:
        return str((self.node.get("metadata") or {}).get("uid") or "")

    # -- lifecycle -----------------------------------------------------------

    async def run(self) -> None:
        """Start, then run until :meth:`stop` is called; cancelling it stops gracefully."""
        try:
            try:
                await self.start()
            except AgentStopped:
                return
            except Exception:
                await self.stop()
                raise
            await self._stopped.wait()
        except asyncio.CancelledError:
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

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"{name}:{self.node_name}"))

    async def _start(self) -> None:
        settings = self.settings
        if self._api is None:
            self._api = await KubeApi.from_kubeconfig(
                settings.kubeconfig, qps=settings.kube_api_qps, burst=settings.kube_api_burst
            )
        api = self._api
        api.add_observer(self.metrics.observe_request)
        settings.node_dir.mkdir(parents=True, exist_ok=True)
        if self._serve_kubelet_api:
            await self._start_kubelet_api(api)
        profile = self.provider.node_profile()
        host = await asyncio.to_thread(HostInfo.measure, settings.data_dir)
        self.description = description = NodeDescription.build(settings, profile, host)
        description.port = self.advertised_port

        async def reregister() -> KubeObject:
            self.node = await register_node(api, description)
            return self.node

        await reregister()
        log.info("node registered", node=self.node_name, uid=self.node_uid)

        events_api = api.with_rate_limit(settings.event_qps, settings.event_burst)
        self.events = KubeEventRecorder(events_api, node_name=self.node_name, metrics=self.metrics)
        self.events.start()
        self.statuses = PodStatusWriter(
            api, node_ip=settings.node_ip, metrics=self.metrics, lookup=self._cached_pod
        )
        self.syncer = PodSyncer(
            self.provider,
            api,
            statuses=self.statuses,
            record_event=self.events,
            lookup=self._cached_pod,
            admission=PodAdmission(description.allocatable),
        )
        self.watcher = PodWatcher(
            api,
            self.node_name,
            on_changed=self.syncer.changed,
            on_gone=self.syncer.gone,
            metrics=self.metrics,
            on_open=self.statuses.api_reachable,
        )

        self.node_status = NodeStatusReporter(
            api,
            description,
            settings.data_dir,
            report_interval=settings.node_status_report_frequency_seconds,
            check_interval=min(
                settings.lease_renew_interval_seconds,
                settings.node_status_report_frequency_seconds,
                10.0,
            ),
            reregister=reregister,
        )
        try:
            await self.node_status.report(force=True)
        except ApiError as error:
            log.warning("first node status write failed; the status loop retries", error=str(error))
        self.lease = LeaseController(
            api,
            self.node_name,
            duration_seconds=settings.lease_duration_seconds,
            renew_interval=settings.lease_renew_interval_seconds,
            node_uid=lambda: self.node_uid,
        )
        self._spawn(self.lease.run(self._stopping), "lease")
        self._spawn(self.node_status.run(self._stopping), "node-status")

        await self.provider.start(
            ProviderContext(
                node_name=self.node_name,
                node_ip=settings.node_ip,
                data_dir=settings.node_dir,
                notify_pod_status=self.statuses.notify,
                record_event=self.events,
                modules_dir=settings.modules_dir,
                api=api,
                insecure_registries=tuple(settings.insecure_registries),
                log_policy=LogPolicy.parse(
                    settings.container_log_max_size, settings.container_log_max_files
                ),
                allowed_host_paths=tuple(settings.allowed_host_paths),
                default_memory_limit=settings.default_memory_limit_bytes,
                max_open_files=settings.pod_max_open_files,
                default_run_as_user=settings.pod_default_user,
                keep_pods_on_exit=settings.keep_pods_on_exit and not settings.drain_on_shutdown,
            )
        )

        pods = await self._first_list(self.watcher)
        known = {podutil.pod_key(pod): pod for pod in pods}
        await self.syncer.delete_dangling(known)
        self.statuses.start()
        self.watcher.replace(pods)
        self._spawn(self.watcher.run(listed=True), "pod-watch")
        self._spawn(self.watcher.resync_forever(settings.pod_resync_period_seconds), "resync")
        await self.watcher.established.wait()
        self._started = True
        self.events(self.node, "Normal", "Starting", "Started wasmlet.")
        log.info("node agent started", node=self.node_name, pods=len(pods))

    async def _start_kubelet_api(self, api: KubeApi) -> None:
        settings = self.settings
        pki = settings.node_dir / "pki"
        client_ca = settings.client_ca_file
        if client_ca is None and settings.kubeconfig is not None:
            client_ca = await asyncio.to_thread(client_ca_from_kubeconfig, settings.kubeconfig, pki)
        self.kubelet_api = KubeletApiServer(
            self.provider,
            node_name=self.node_name,
            host=settings.node_ip,
            port=settings.port,
            cert_dir=pki,
            client_ca_file=client_ca,
            api=api,
            anonymous_auth=settings.anonymous_auth,
            tls_cert_file=settings.tls_cert_file,
            tls_key_file=settings.tls_private_key_file,
            metrics_registry=self.metrics.registry,
            pods_source=self._pods_for_kubelet_api,
            limits=ConnectionLimits(
                max_connections=settings.kubelet_api_max_connections,
                request_header_timeout=settings.kubelet_api_request_header_timeout_seconds,
                idle_timeout=settings.kubelet_api_idle_timeout_seconds,
            ),
        )
        await self.kubelet_api.start()
        self.advertised_port = self.kubelet_api.port

    async def _pods_for_kubelet_api(self) -> list[KubeObject]:
        return list(self.watcher.cache.values()) if self.watcher is not None else []

    def _cached_pod(self, key: str) -> KubeObject | None:
        """The latest version of pod ``key`` seen by the watch (None if not ours)."""
        return self.watcher.cache.get(key) if self.watcher is not None else None

    async def _first_list(self, watcher: PodWatcher) -> list[KubeObject]:
        backoff = Backoff(0.2, 30.0)
        while True:
            try:
                return await watcher.list_pods()
            except ApiError as error:
                delay = backoff.next()
                log.warning(
                    "listing pods failed, retrying", error=str(error), retry_in=round(delay, 2)
                )
                await asyncio.sleep(delay)

    # -- stopping ------------------------------------------------------------

    async def _shutdown(self, drain: bool | None) -> None:
        loop = asyncio.get_running_loop()
        budget = max(self.settings.shutdown_grace_period_seconds, 2.0)
        deadline = loop.time() + budget

        def left(share: float = 1.0) -> float:
            return max(0.05, (deadline - loop.time()) * share)

        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
            await asyncio.gather(self._start_task, return_exceptions=True)
        drain = self.settings.drain_on_shutdown if drain is None else drain
        log.info("node agent stopping", node=self.node_name, drain=drain)
        try:
            if drain and self._started:
                await self._drain(left(0.6))
            self._stopping.set()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            if self.syncer is not None:
                await self.syncer.workers.stop(timeout=left(0.2))
            if self.statuses is not None:
                await self.statuses.flush(left(0.3))
            if self.node_status is not None:
                try:
                    await asyncio.wait_for(
                        self.node_status.mark_not_ready(SHUTDOWN_MESSAGE), left(0.3)
                    )
                except (ApiError, TimeoutError) as error:
                    log.warning("could not mark the node NotReady", error=str(error))
            if self.kubelet_api is not None:
                try:
                    await asyncio.wait_for(self.kubelet_api.stop(), left(0.3))
                except Exception:  # shutting down regardless
                    log.exception("kubelet API server did not stop cleanly")
            if self._start_task is not None and self._start_task.done():
                try:
                    await asyncio.wait_for(self.provider.shutdown(), left(0.8))
                except Exception:  # shutting down regardless
                    log.exception("provider shutdown failed", node=self.node_name)
            if self.events is not None:
                await self.events.flush(min(left(0.5), 2.0))
                await self.events.stop()
            if self.statuses is not None:
                await self.statuses.stop()
        finally:
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
            await asyncio.wait_for(self.watcher.empty.wait(), max(0.05, deadline - loop.time()))
        if self.watcher.cache:
            log.warning("drain timed out", node=self.node_name, left=len(self.watcher.cache))
