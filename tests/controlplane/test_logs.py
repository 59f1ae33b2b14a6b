"""pods/log is proxied to the kubelet API of the pod's node (a small HTTPS stub here)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.controlplane.conftest import Client, add_node, pod

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def kubelet(client: Client) -> AsyncIterator[dict[str, Any]]:
    """An HTTPS endpoint answering /containerLogs like a kubelet, recording what it got."""
    seen: dict[str, Any] = {}

    async def logs(request: web.Request) -> web.StreamResponse:
        seen["path"] = request.path
        seen["query"] = dict(request.query)
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        seen["client"] = dict(x[0] for x in peer["subject"]) if peer else None
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for line in ("one\n", "two\n"):
            await response.write(line.encode())
        return response

    pki = client.cp.pki
    pair = pki.issue("test-kubelet", "system:node:n1", server_names=("127.0.0.1",))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_cert_path))
    ctx.load_cert_chain(str(pair.cert_path), str(pair.key_path))
    ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", logs)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    server: Any = site._server
    seen["port"] = server.sockets[0].getsockname()[1]
    try:
        yield seen
    finally:
        await runner.cleanup()


async def test_logs_are_streamed_from_the_kubelet(client: Client, kubelet: dict[str, Any]) -> None:
    node = await add_node(client, "n1")
    node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet["port"]}}
    await client.ok("PUT", "/api/v1/nodes/n1/status", node)
    await client.ok("POST", PODS, pod("p", nodeName="n1"))
    async with client.session.get(
        client.cp.url + f"{PODS}/p/log", params={"tailLines": "2", "follow": "true"}, ssl=client.ssl
    ) as resp:
        assert resp.status == 200
        assert await resp.text() == "one\ntwo\n"
    assert kubelet["path"] == "/containerLogs/default/p/main"
    assert kubelet["query"] == {"tailLines": "2", "follow": "true"}
    assert kubelet["client"]["commonName"] == "kube-apiserver-kubelet-client"


async def test_log_errors(client: Client) -> None:
    two = pod("two", nodeName="n1")
    two["spec"]["containers"].append({"name": "side", "image": "example/side:1"})
    await client.ok("POST", PODS, two)
    status, body = await client.get(f"{PODS}/two/log")
    assert status == 400
    assert body["message"] == (
        "a container name must be specified for pod two, choose one of: [main side]"
    )
    # Not scheduled yet: an empty log, as the real server answers.
    await client.ok("POST", PODS, pod("unbound"))
    async with client.session.get(client.cp.url + f"{PODS}/unbound/log", ssl=client.ssl) as resp:
        assert resp.status == 200 and await resp.text() == ""
    status, body = await client.get(f"{PODS}/two/log", container="main")
    assert status == 404 and body["message"] == 'nodes "n1" not found'


async def test_kubectl_logs(client: Client, kubelet: dict[str, Any], kubectl: str) -> None:
    node = await add_node(client, "n1")
    node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet["port"]}}
    await client.ok("PUT", "/api/v1/nodes/n1/status", node)
    await client.ok("POST", PODS, pod("p", nodeName="n1"))
    proc = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(client.cp.kubeconfig_path),
        "logs",
        "p",
        "--tail=5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert out == b"one\ntwo\n"
    assert kubelet["query"] == {"tailLines": "5"}


async def test_metrics_group_is_discoverable(client: Client) -> None:
    groups = await client.ok("GET", "/apis")
    assert "metrics.k8s.io" in [g["name"] for g in groups["groups"]]
