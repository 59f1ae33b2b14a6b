"""Finding 5: ``/containerLogs`` with ``..%2F`` segments serving any host ``<digits>.log``.

aiohttp decodes ``%2F`` inside a path segment, so ``/containerLogs/ns/pod/..%2F..%2Fx``
reaches the handler as container ``../../x``.  A provider that builds a path
from the names (the core's on-disk lookup after an agent restart, or any
provider's own scheme) then served files outside its logs directory.  Now the
kubelet API refuses a segment that is not a valid Kubernetes name with 400
before any provider sees it, and the core's log store checks the names again
(a provider called directly answers NotFound).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
import yarl

from kubelet_core._agent import NodeAgent
from kubelet_core._containers.logs import decode_log
from kubelet_core._controlplane.kubelet_proxy import ensure_kubelet_client_certificate
from kubelet_core._kubeletapi import KubeletApiServer
from kubelet_core._provider.base import LogOptions
from kubelet_core._provider.errors import NotFound
from kubelet_core.testing import ClusterHarness, pod_manifest
from tests.containers.conftest import FAST
from tests.containers.pyruntime import PyRuntimeProvider
from tests.kubeletapi.conftest import FileLogProvider, Pki, client_context

LOOT = "HOST-SECRET-LOG-LINE"

#: Each segment in turn: ``..`` (plain, encoded, with encoded slashes), NUL, empty-ish, bad case.
BAD_PATHS = [
    "/containerLogs/default/done/..%2F..%2F..%2Floot",
    "/containerLogs/default/done/%2e%2e%2F%2e%2e%2F%2e%2e%2Floot",
    "/containerLogs/default/done/..",
    "/containerLogs/default/done/%2E%2E",
    "/containerLogs/default/done/done%2F..%2F..%2F..%2F..%2Floot",
    "/containerLogs/default/done/done%00",
    "/containerLogs/default/done/Done",
    "/containerLogs/default/..%2F..%2Fdone/done",
    "/containerLogs/default/..%2Fdefault_done_x%2F..%2F..%2F..%2Floot/done",
    "/containerLogs/default/%2e%2e/done",
    "/containerLogs/..%2F..%2F..%2Floot/done/done",
    "/containerLogs/..%2Fdefault/done/done",
    "/containerLogs/default%2F..%2F..%2Floot/done/done",
    "/containerLogs/%2e%2e/done/done",
]


async def get(
    http: aiohttp.ClientSession, base: str, path: str, context: ssl.SSLContext
) -> tuple[int, str]:
    """A GET sent exactly as written: no normalisation of ``..``, no re-encoding."""
    url = yarl.URL(base + path, encoded=True)
    async with http.get(url, ssl=context) as response:
        return response.status, await response.text()


async def test_traversal_segments_are_400_for_any_provider(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    """The API layer protects every provider: this one joins the names into a path itself."""
    await provider.append("default", "web", "app", "a real line\n")
    outside = provider.root.parent
    (outside / "loot.log").write_text(LOOT)
    (outside / "default").mkdir()
    context = client_context(server, pki.admin)
    assert await get(http, server.url, "/containerLogs/default/web/app", context) == (
        200,
        "a real line\n",
    )
    seen = len(provider.options)
    for path in (
        "/containerLogs/default/web/..%2F..%2F..%2Floot",
        "/containerLogs/default/..%2F..%2F..%2Fdefault/..%2Floot",
        "/containerLogs/..%2F..%2Floot/web/app",
        "/containerLogs/default/web/app%00",
    ):
        status, body = await get(http, server.url, path, context)
        assert status == 400, (path, status, body)
        assert LOOT not in body
        assert body.startswith("invalid "), body
    assert len(provider.options) == seen  # the provider was never asked


async def test_the_400_names_the_bad_segment(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    context = client_context(server, pki.admin)
    status, body = await get(http, server.url, "/containerLogs/default/web/..%2Fx", context)
    assert status == 400
    assert body == (
        "invalid container name '../x': a lowercase RFC 1123 label must consist of lower case "
        "alphanumeric characters or '-', and must start and end with an alphanumeric character"
    )
    status, body = await get(http, server.url, "/containerLogs/Default/web/app", context)
    assert (status, body.split(":")[0]) == (400, "invalid namespace 'Default'")
    status, body = await get(http, server.url, "/containerLogs/default/a..b/app", context)
    assert (status, body.split(":")[0]) == (400, "invalid pod name 'a..b'")
    long_pod = "p" * 254
    status, body = await get(http, server.url, f"/containerLogs/default/{long_pod}/app", context)
    assert status == 400 and "no more than 253 characters" in body


def kubelet_client_context(cluster: ClusterHarness, agent: NodeAgent, tmp: Path) -> ssl.SSLContext:
    """What kube-apiserver presents to kubelets: the control plane's kubelet-client cert."""
    pki = cluster.controlplane.pki
    cert, key = ensure_kubelet_client_certificate(pki.ca_cert_path, pki.ca_key_path, tmp)
    assert agent.kubelet_api is not None
    context = ssl.create_default_context(cafile=str(agent.kubelet_api.serving_cert_file))
    context.load_cert_chain(cert, key)
    return context


async def test_traversal_after_an_agent_restart_serves_nothing_outside(tmp_path: Path) -> None:
    """The audit's scenario: the pod finished before the agent restarted, so the restarted
    agent does not run it and serves its log from disk by name (``_log_on_disk``)."""
    node = "logs-node"
    async with ClusterHarness.start(tmp_path) as cluster:
        async with cluster.node(PyRuntimeProvider(timings=FAST), node):
            manifest = pod_manifest("done", image="pyrt/app:v1", node_name=node)
            manifest["spec"]["containers"][0]["args"] = ["print", "hello", "from", "before"]
            await cluster.create_pod(manifest)
            await cluster.wait_for_pod("default", "done", phase="Succeeded")
        uid = (await cluster.get_pod("default", "done"))["metadata"]["uid"]
        pod_dir = tmp_path / "nodes" / node / "pods" / f"default_done_{uid}"
        assert decode_log((pod_dir / "done" / "0.log").read_bytes()) == b"hello from before\n"
        # Files named like logs, outside the logs directory, where the ``..`` lead:
        for depth in range(1, 5):
            loot = pod_dir.joinpath(*[".."] * depth, "loot")
            loot.mkdir(exist_ok=True)
            (loot / "0.log").write_text(LOOT)
            (loot / "1.log").write_text(LOOT)
        restarted = PyRuntimeProvider(timings=FAST)
        async with cluster.node(restarted, node) as agent:
            assert await restarted.list_pods() == []  # not running it: logs come from disk
            assert agent.kubelet_api is not None
            base = agent.kubelet_api.url
            context = kubelet_client_context(cluster, agent, tmp_path / "client")
            async with aiohttp.ClientSession() as http:
                ok = await get(http, base, "/containerLogs/default/done/done", context)
                assert ok == (200, "hello from before\n")
                for path in BAD_PATHS:
                    status, body = await get(http, base, path, context)
                    assert status == 400, (path, status, body)
                    assert LOOT not in body
                    query = "?previous=true"
                    status, body = await get(http, base, path + query, context)
                    assert status == 400 and LOOT not in body
            # The provider itself, asked directly with the same names: nothing is served.
            for container in ("../../../loot", "../loot", "..", "done/../../../../loot"):
                with pytest.raises(NotFound):
                    await anext(
                        restarted.container_logs("default", "done", container, LogOptions())
                    )
            for namespace, pod in (("..", "done"), ("default", "../default_done_x/../../loot")):
                with pytest.raises(NotFound):
                    await anext(restarted.container_logs(namespace, pod, "done", LogOptions()))


async def test_a_log_directory_symlinked_out_is_not_served(tmp_path: Path) -> None:
    """Even a valid name must not lead out: a symlink in the logs directory is not followed."""
    node = "links-node"
    async with ClusterHarness.start(tmp_path) as cluster:
        logs = tmp_path / "nodes" / node / "pods"
        loot = tmp_path / "loot"
        (loot / "main").mkdir(parents=True)
        (loot / "main" / "0.log").write_text(LOOT)
        provider = PyRuntimeProvider(timings=FAST)
        async with cluster.node(provider, node):
            logs.mkdir(parents=True, exist_ok=True)
            (logs / "default_ghost_1234").symlink_to(loot)
            (logs / "default_ghost2_1234").mkdir()
            (logs / "default_ghost2_1234" / "main").symlink_to(loot / "main")
            for pod in ("ghost", "ghost2"):
                with pytest.raises(NotFound):
                    await anext(provider.container_logs("default", pod, "main", LogOptions()))
