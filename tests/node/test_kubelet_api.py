"""The agent serves the kubelet API: its own metrics and the pods it runs."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from kubernetes_asyncio import config as kconfig
from kubernetes_asyncio.client import Configuration

from tests.node.conftest import pod_manifest, running, wait_for


async def _client_ssl(kubeconfig) -> ssl.SSLContext:
    configuration = Configuration()
    await kconfig.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
    )
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the kubelet's serving certificate is self-signed
    context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


async def test_kubelet_api_is_served_on_the_advertised_port(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        node = await api.get("/api/v1/nodes/node-a")
        port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        assert port == agent.kubelet_api.port
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"https://127.0.0.1:{port}/metrics", ssl=False) as response,
        ):
            assert response.status == 401  # kubelet's authn: no anonymous access
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"https://127.0.0.1:{port}/healthz", ssl=False)


async def test_kubelet_api_serves_metrics_and_pods(cp, api, node_config, provider):
    async with running(provider, node_config()) as agent:
        await api.create("/api/v1/namespaces/default/pods", pod_manifest("served"))
        await wait_for(
            api,
            "/api/v1/namespaces/default/pods",
            "served",
            lambda p: p.get("status", {}).get("phase") == "Running",
        )
        assert await agent.statuses.flush(5)
        context = await _client_ssl(cp.kubeconfig_path)
        async with aiohttp.ClientSession() as http:
            url = agent.kubelet_api.url
            async with http.get(f"{url}/metrics", ssl=context) as response:
                assert response.status == 200
                text = await response.text()
            async with http.get(f"{url}/pods", ssl=context) as response:
                assert response.status == 200
                pods = await response.json()
        assert 'wasmlet_pods{phase="Running"} 1.0' in text
        assert "wasmlet_api_requests_total" in text
        assert [p["metadata"]["name"] for p in pods["items"]] == ["served"]
