"""ControlPlane: the embedded Kubernetes API server (HTTPS, SQLite-backed, with scheduler).

``async with ControlPlane(data_dir) as cp:`` gives a server at ``cp.url`` and an admin
kubeconfig at ``cp.kubeconfig_path`` that kubectl, kubernetes-asyncio and node agents can
use as they would a real cluster. State (state.db) and the CA (pki/) live in ``data_dir``;
restarting on the same directory keeps every object, keeps resourceVersions increasing
and keeps the CA, so existing kubeconfigs and issued certificates stay valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import bootstrap_tokens, reviews
from kubelet_core._controlplane.access import AccessPolicy, forbidden_message
from kubelet_core._controlplane.admission import Admission
from kubelet_core._controlplane.api import Api, LogHandler
from kubelet_core._controlplane.auth import TokenAuthenticator, UserInfo, make_middleware
from kubelet_core._controlplane.authn_authz import TokenTable, review_routes
from kubelet_core._controlplane.bootstrap_signer import BootstrapSigner, TokenCleaner
from kubelet_core._controlplane.bootstrap_tokens import BootstrapTokenAuthenticator
from kubelet_core._controlplane.clock import Clock, MonotonicClock
from kubelet_core._controlplane.csr_controllers import DEFAULT_MAX_DURATION, CsrApprover, CsrSigner
from kubelet_core._controlplane.disruption import DisruptionController
from kubelet_core._controlplane.garbagecollector import GarbageCollector
from kubelet_core._controlplane.impersonation import impersonate
from kubelet_core._controlplane.kubelet_proxy import (
    KubeletClient,
    ensure_kubelet_client_certificate,
    pod_log_handler,
    pod_stream_handler,
    store_reader,
)
from kubelet_core._controlplane.metrics_api import MetricsApi, store_lister
from kubelet_core._controlplane.metrics_api import api_group as metrics_api_group
from kubelet_core._controlplane.nodelifecycle import NodeLifecycle
from kubelet_core._controlplane.persistence import Persistence
from kubelet_core._controlplane.pki import PKI, kubeconfig
from kubelet_core._controlplane.podgc import PodGC
from kubelet_core._controlplane.rbac import bootstrap as rbac_bootstrap
from kubelet_core._controlplane.rbac.aggregation import ClusterRoleAggregator
from kubelet_core._controlplane.rbac.escalation import EscalationCheck
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resourcequota import QuotaController
from kubelet_core._controlplane.resources import CONFIGMAPS, SECRETS
from kubelet_core._controlplane.sa_authn import ServiceAccountAuthenticator
from kubelet_core._controlplane.services.manager import ServiceControllers
from kubelet_core._controlplane.store import Store
from kubelet_core._controlplane.tainteviction import TaintEviction
from kubelet_core._controlplane.tokenrequest import JWKS_ROUTE, TokenSigner, jwks_handler
from kubelet_core._controlplane.tokenrequest import issue as issue_token
from kubelet_core._controlplane.workloads.manager import WorkloadControllers


class ControlPlane:
    """An in-process Kubernetes API server for tests, ``wasmlet up`` and provider authors."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: Path | None = None,
        scheduler: bool = True,
        watch_history: int = 10_000,
        bookmark_interval: float = 60.0,
        token_authenticator: TokenAuthenticator | None = None,
        log_handler: LogHandler | None = None,
        node_monitor_grace: float | None = 40.0,
        approve_serving_csrs: bool = False,
        csr_max_duration: dt.timedelta = DEFAULT_MAX_DURATION,
        clock: Clock | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.kubeconfig_path = kubeconfig_path or self.data_dir / "kubeconfig"
        self.scheduler_enabled = scheduler
        # Seconds without lease renewal or status before a node turns Unknown (None: never).
        self.node_monitor_grace = node_monitor_grace
        self.node_lifecycle: NodeLifecycle | None = None
        self.taint_eviction: TaintEviction | None = None
        self.pod_gc: PodGC | None = None
        #: The time node lifecycle, taint eviction and pod GC go by (tests move a ManualClock).
        self.clock: Clock = clock or MonotonicClock()
        self.watch_history = watch_history
        self.bookmark_interval = bookmark_interval
        #: Bearer tokens the control plane knows (kube-apiserver's static token file);
        #: answered by TokenReview and accepted as credentials on the API itself.
        self.tokens = TokenTable()
        self._extra_authenticator = token_authenticator
        #: Auto-approve kubelet serving CSRs (development); kube leaves them to an admin.
        self.approve_serving_csrs = approve_serving_csrs
        self.csr_max_duration = csr_max_duration
        self._csr_controllers: list[CsrApprover | CsrSigner] = []
        self._policy_controllers: list[QuotaController | DisruptionController] = []
        self._token_controllers: list[BootstrapSigner | TokenCleaner] = []
        self._authenticators: list[TokenAuthenticator] = []
        self.log_handler = log_handler
        self.pki = PKI(self.data_dir / "pki")
        self.store: Store | None = None
        self.registry: Registry | None = None
        self.scheduler: Any = None
        self._runner: web.AppRunner | None = None
        self._persistence: Persistence | None = None
        self._kubelet_client: KubeletClient | None = None
        self._aggregator: ClusterRoleAggregator | None = None
        self.workloads: WorkloadControllers | None = None
        self.garbage_collector: GarbageCollector | None = None
        self.services: ServiceControllers | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pki.ensure_ca()
        persistence = Persistence(self.data_dir / "state.db")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, persistence.open)
        store = Store(persistence, history_size=self.watch_history)
        store.load()
        registry = Registry(store, root_ca_pem=self.pki.ca.cert_pem().decode())
        self._persistence, self.store, self.registry = persistence, store, registry
        await registry.bootstrap()
        # kube-apiserver's RBAC bootstrap policy (and kubeadm's bindings), then the
        # aggregated roles (admin/edit/view) filled in before the first request.
        await rbac_bootstrap.reconcile(registry)
        self._aggregator = ClusterRoleAggregator(store, registry)
        await self._aggregator.start()

        # The control plane reaches kubelets (pods/log, metrics.k8s.io) as
        # kube-apiserver-kubelet-client, with a certificate from its own CA.
        cert, key = ensure_kubelet_client_certificate(
            self.pki.ca_cert_path, self.pki.ca_key_path, self.pki.directory
        )
        kubelet_client = self._kubelet_client = KubeletClient(cert, key)
        objects = store_reader(lambda: self.store)
        metrics = MetricsApi(
            get_object=objects, list_objects=store_lister(lambda: self.store), client=kubelet_client
        )
        api = Api(
            store,
            registry,
            bookmark_interval=self.bookmark_interval,
            server_address=f"{self.host}:{self.port}",
            log_handler=self.log_handler or pod_log_handler(objects, kubelet_client),
        )
        self.api = api
        api.stream_handler = pod_stream_handler(objects, kubelet_client)
        api.extra_groups.append(metrics_api_group())
        signer = TokenSigner.load_or_create(self.pki.directory)
        # Bearer tokens: the given hook or the static table, bootstrap tokens, then the
        # service account tokens this control plane issued.
        self._authenticators = [
            self._extra_authenticator or self.tokens.authenticate,
            BootstrapTokenAuthenticator(store, self.clock),
            ServiceAccountAuthenticator(signer, objects),
        ]
        policy = AccessPolicy(store)

        def authorize(user: UserInfo, info: RequestInfo) -> tuple[bool, str]:
            allowed, reason = policy.decide(user, info)
            return allowed, "" if allowed else forbidden_message(user, info, reason)

        api.admit = Admission(store, policy).admit
        api.admit_object = EscalationCheck(policy)
        api.extra_groups.extend(reviews.api_groups())
        app = web.Application(
            middlewares=[
                make_middleware(
                    self.authenticate_token,
                    authorize,
                    lambda user, headers: impersonate(user, headers, authorize),
                )
            ],
            client_max_size=16 * 1024 * 1024,
        )
        for probe in ("/healthz", "/livez", "/readyz"):
            app.router.add_get(probe, _ok)
            app.router.add_get(probe + "/{check:.*}", _ok)
        app.add_routes(metrics.routes())
        # TokenReview and SubjectAccessReview (kubelets ask these before serving logs,
        # stats and metrics), answered with the chain requests get; the self-reviews
        # of kubectl auth can-i / whoami.
        app.add_routes(review_routes(self.authenticate_token, policy.review))
        app.add_routes(reviews.routes(policy))
        # TokenRequest (bound service account tokens) and the key set to verify them.
        app.router.add_get(JWKS_ROUTE, jwks_handler(signer))
        # serviceaccounts/token goes through the Api so protobuf bodies (kubectl create
        # token) are decoded like every other body.
        api.token_issuer = lambda ns, name, body: issue_token(signer, objects, ns, name, body)
        app.router.add_route("*", "/{tail:.*}", api.handle)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, handler_cancellation=True
        )
        await runner.setup()
        ssl_context = self.pki.server_ssl_context(self.host)
        site = web.TCPSite(
            runner, self.host, self.port, ssl_context=ssl_context, reuse_address=True
        )
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = _bound_port(site)
        api.server_address = f"{self.host}:{self.port}"
        self.write_kubeconfig()
        await self._publish_cluster_info()
        # kubeadm turns on kube-controller-manager's bootstrapsigner and tokencleaner:
        # cluster-info carries a JWS per token, and expired tokens go away.
        self._token_controllers = [
            BootstrapSigner(store, registry, self.clock),
            TokenCleaner(store, registry, self.clock),
        ]
        for token_controller in self._token_controllers:
            token_controller.start()
        approver = CsrApprover(
            store, registry, policy.decide, approve_serving=self.approve_serving_csrs
        )
        csr_signer = CsrSigner(store, registry, self.pki, max_duration=self.csr_max_duration)
        self._csr_controllers = [approver, csr_signer]
        self._policy_controllers = [
            QuotaController(store, registry),
            DisruptionController(store, registry),
        ]
        for controller in [*self._csr_controllers, *self._policy_controllers]:
            controller.start()
        if self.scheduler_enabled:
            from kubelet_core._controlplane.scheduler import Scheduler

            self.scheduler = Scheduler(store, registry)
            self.scheduler.start()
        if self.node_monitor_grace is not None:
            clock = self.clock
            self.node_lifecycle = NodeLifecycle(
                store, registry, grace=self.node_monitor_grace, clock=clock
            )
            self.taint_eviction = TaintEviction(store, registry, clock=clock)
            self.pod_gc = PodGC(store, registry, clock=clock)
            for lifecycle in (self.node_lifecycle, self.taint_eviction, self.pod_gc):
                lifecycle.start()
        self.garbage_collector = GarbageCollector(store, registry)
        self.garbage_collector.start()
        self.workloads = WorkloadControllers(store, registry, self.clock)
        self.workloads.start()
        self.services = await ServiceControllers(store, registry, self.clock).start(
            self.host, self.port
        )

    def write_kubeconfig(
        self,
        path: Path | None = None,
        *,
        user: str = "admin",
        groups: tuple[str, ...] = ("system:masters",),
    ) -> Path:
        """Write a kubeconfig for ``user`` (a client certificate from our CA) and return it.

        Without arguments this is the admin kubeconfig at ``kubeconfig_path``; node agents
        can get their own identity, e.g. ``user="system:node:n1", groups=("system:nodes",)``.
        """
        path = path or self.kubeconfig_path
        if user == "admin" and groups == ("system:masters",):
            pair = self.pki.admin_pair()
        else:
            stem = "client-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
            pair = self.pki.issue(stem, user, organizations=groups)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            kubeconfig(self.url, self.pki.ca.cert_pem(), pair.cert_pem(), pair.key_pem(), user)
        )
        path.chmod(0o600)
        return path

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """Who a bearer token is, asking each authenticator in turn (API and TokenReview)."""
        for authenticator in self._authenticators:
            user = await authenticator(token)
            if user is not None:
                return user
        return None

    async def _publish_cluster_info(self) -> None:
        """kube-public/cluster-info, kept naming this server (the URL may change on restart).

        Only ``kubeconfig`` is rewritten, and only if it changed: the other keys are the
        bootstrap signer's signatures, which stay valid for an unchanged kubeconfig
        (a joining node would otherwise find them missing until the signer re-signs)."""
        assert self.registry is not None and self.store is not None
        body = bootstrap_tokens.cluster_info(self.url, self.pki.ca.cert_pem())
        existing = self.store.get(CONFIGMAPS, "kube-public", "cluster-info")
        if existing is None:
            await self.registry.create(CONFIGMAPS, "kube-public", body)
            return
        data = dict(existing.obj.get("data") or {})
        if data.get("kubeconfig") == body["data"]["kubeconfig"]:
            return
        data["kubeconfig"] = body["data"]["kubeconfig"]
        updated = {**existing.obj, "data": data}
        await self.registry.update(CONFIGMAPS, "kube-public", "cluster-info", updated)

    async def create_bootstrap_token(
        self, ttl: dt.timedelta | None = dt.timedelta(hours=24), token: str | None = None
    ) -> str:
        """Store a bootstrap token (``id.secret``) and return it, like ``kubeadm token create``."""
        assert self.registry is not None
        token = token or bootstrap_tokens.new_token()
        body = bootstrap_tokens.token_secret(
            token, ttl=ttl, description="made by wasmlet controlplane"
        )
        await self.registry.create(SECRETS, bootstrap_tokens.NAMESPACE, body)
        return token

    def bootstrap_kubeconfig(self, token: str) -> str:
        """A bootstrap kubeconfig for ``token``: what ``wasmlet join`` writes from cluster-info."""
        from kubelet_core._pki import bootstrap_kubeconfig

        info = bootstrap_tokens.cluster_info(self.url, self.pki.ca.cert_pem())
        return bootstrap_kubeconfig(info["data"]["kubeconfig"], token, self.pki.ca_cert_hash())

    def join_command(self, token: str) -> str:
        return bootstrap_tokens.join_command(self.url, token, self.pki.ca_cert_hash())

    async def stop(self) -> None:
        if self.services is not None:
            await self.services.stop()
        if self._aggregator is not None:
            await self._aggregator.stop()
            self._aggregator = None
        if self.workloads is not None:
            await self.workloads.stop()
            self.workloads = None
        if self.garbage_collector is not None:
            await self.garbage_collector.stop()
            self.garbage_collector = None
        for controller in [
            *self._csr_controllers,
            *self._policy_controllers,
            *self._token_controllers,
        ]:
            await controller.stop()
        self._csr_controllers, self._policy_controllers, self._token_controllers = [], [], []
        for lifecycle in (self.node_lifecycle, self.taint_eviction, self.pod_gc):
            if lifecycle is not None:
                await lifecycle.stop()
        self.node_lifecycle = self.taint_eviction = self.pod_gc = None
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        if self.store is not None:
            self.store.close_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.registry is not None:
            with contextlib.suppress(Exception):
                await self.registry.drain()
        if self._kubelet_client is not None:
            await self._kubelet_client.close()
            self._kubelet_client = None
        if self._persistence is not None:
            await self._persistence.close()
            self._persistence = None

    async def __aenter__(self) -> ControlPlane:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _bound_port(site: web.TCPSite) -> int:
    server: Any = site._server
    port: int = server.sockets[0].getsockname()[1]
    return port


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve_forever(cp: ControlPlane) -> None:
    """Run ``cp`` until cancelled (for a CLI)."""
    async with cp:
        await asyncio.Event().wait()
