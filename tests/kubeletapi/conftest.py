"""Fixtures for the kubelet API tests: a file-backed test provider, a PKI, a review server.

``FileLogProvider`` is a small but real provider: each container's log is a file
the test writes, and a followed log wakes when the test appends to it.  The
review server is the control plane's own TokenReview/SubjectAccessReview
handlers (:mod:`kubelet_core._controlplane.authn_authz`) served over real HTTP,
reached through the agent's real API client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ssl
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from kubelet_core._apiclient import KubeApi
from kubelet_core._controlplane.authn_authz import Authorizer, TokenTable, review_routes
from kubelet_core._kubeletapi import ContainerStats, KubeletApiServer, PodStats
from kubelet_core._provider.base import KubeObject, LogOptions, NodeProfile, PodKey, Provider
from kubelet_core._provider.errors import NotFound
from tests.kubeletapi.pki import CertPair, issue_client, make_ca

NODE = "node-a"


class FileLogProvider(Provider):
    """Logs from files under ``root/<ns>/<pod>/<container>.log``; fixed usage figures."""

    name = "file-log-test"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.changed = asyncio.Condition()
        self.options: list[LogOptions] = []
        self.closed_streams = 0
        self.stream_closed = asyncio.Event()
        self.cpu_ns = 1_000_000_000

    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch("wasm32-wasi")

    async def create_pod(self, pod: KubeObject) -> None:
        pass

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        pass

    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        return {"phase": "Running"}

    async def list_pods(self) -> list[PodKey]:
        return sorted(
            {
                PodKey(p.parent.parent.name, p.parent.name, f"uid-{p.parent.name}")
                for p in self.root.glob("*/*/*.log")
            },
            key=str,
        )

    def path(self, namespace: str, pod: str, container: str) -> Path:
        return self.root / namespace / pod / f"{container}.log"

    async def append(self, namespace: str, pod: str, container: str, text: str) -> None:
        path = self.path(namespace, pod, container)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(text)
        async with self.changed:
            self.changed.notify_all()

    async def container_logs(
        self, namespace: str, pod_name: str, container: str, options: LogOptions
    ) -> AsyncIterator[bytes]:
        self.options.append(options)
        path = self.path(namespace, pod_name, container)
        if not path.exists():
            raise NotFound(f'container "{container}" in pod "{pod_name}" is not known')
        try:
            data = path.read_bytes()
            lines = data.splitlines(keepends=True)
            if options.tail_lines is not None:
                lines = lines[len(lines) - options.tail_lines :] if options.tail_lines else []
            if lines:
                yield b"".join(lines)
            offset = len(data)
            while options.follow:
                size_seen = offset

                def grown(at: int = size_seen) -> bool:
                    return path.stat().st_size > at

                async with self.changed:
                    await self.changed.wait_for(grown)
                with path.open("rb") as source:
                    source.seek(offset)
                    chunk = source.read()
                offset += len(chunk)
                yield chunk
        finally:
            self.closed_streams += 1
            self.stream_closed.set()

    async def pod_stats(self) -> list[PodStats]:
        self.cpu_ns += 500_000_000
        started = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        return [
            PodStats(
                "default",
                "web",
                "uid-web",
                (
                    ContainerStats("app", self.cpu_ns, 4 << 20, 5 << 20),
                    ContainerStats("sidecar", 250_000_000, 1 << 20, cpu_usage_nano_cores=7),
                ),
                start_time=started,
            )
        ]


@dataclasses.dataclass
class Pki:
    ca: CertPair
    admin: CertPair  # CN=admin, O=system:masters
    alice: CertPair  # CN=alice, O=devs: RBAC lets her read nodes/stats only
    rogue: CertPair  # CN=admin, O=system:masters, but signed by another CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = make_ca(tmp_path / "pki", "client-ca")
    other = make_ca(tmp_path / "other", "other-ca")
    return Pki(
        ca,
        issue_client(ca, tmp_path / "pki", "admin", "system:masters"),
        issue_client(ca, tmp_path / "pki", "alice", "devs"),
        issue_client(other, tmp_path / "other", "admin", "system:masters"),
    )


RBAC: dict[str, list[KubeObject]] = {
    "clusterroles": [
        {
            "metadata": {"name": "node-stats-reader"},
            "rules": [{"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]}],
        }
    ],
    "clusterrolebindings": [
        {
            "metadata": {"name": "alice-reads-stats"},
            "roleRef": {"kind": "ClusterRole", "name": "node-stats-reader"},
            "subjects": [{"kind": "User", "name": "alice"}],
        }
    ],
}


def rbac_lister(plural: str, namespace: str | None) -> Iterable[KubeObject]:
    return RBAC.get(plural, [])


@dataclasses.dataclass
class ReviewServer:
    url: str
    tokens: TokenTable
    requests: list[str]


@pytest.fixture
async def review_server() -> AsyncIterator[ReviewServer]:
    tokens = TokenTable()
    tokens.add("admin-token", "admin", ["system:masters"])
    tokens.add("alice-token", "alice", ["devs"])
    tokens.add("nobody-token", "nobody")
    seen: list[str] = []

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[count])
    app.add_routes(review_routes(tokens, Authorizer(rbac_lister)))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield ReviewServer(f"http://127.0.0.1:{port}", tokens, seen)
    finally:
        await runner.cleanup()


@pytest.fixture
async def review_api(review_server: ReviewServer) -> AsyncIterator[KubeApi]:
    api = KubeApi(review_server.url)
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
def provider(tmp_path: Path) -> FileLogProvider:
    return FileLogProvider(tmp_path / "logs")


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("wasmlet_test_things", "Things counted by the test", registry=registry).inc(3)
    return registry


@pytest.fixture
async def server(
    provider: FileLogProvider,
    pki: Pki,
    tmp_path: Path,
    review_api: KubeApi,
    registry: CollectorRegistry,
) -> AsyncIterator[KubeletApiServer]:
    server = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "serving",
        client_ca_file=pki.ca.cert,
        api=review_api,
        metrics_registry=registry,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def client_context(server: KubeletApiServer, cert: CertPair | None) -> ssl.SSLContext:
    """Trusts the server's self-signed certificate (by its IP SAN); presents ``cert``."""
    context = ssl.create_default_context(cafile=str(server.serving_cert_file))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession,
    server: KubeletApiServer,
    path: str,
    *,
    cert: CertPair | None = None,
    token: str | None = None,
    method: str = "GET",
    params: dict[str, str] | None = None,
) -> tuple[int, str]:
    """One request to the kubelet API; returns status and body text."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(
        method,
        server.url + path,
        params=params,
        headers=headers,
        ssl=client_context(server, cert),
    ) as response:
        return response.status, await response.text()
