"""The actor provider under the real node agent and embedded API server (no kubectl)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from kubelet_core._modules import ModuleStore
from kubelet_core._provider.base import KubeObject
from kubelet_core.testing._harness import ClusterHarness, pod_manifest
from tests.components import free_port
from tests.containers.conftest import FAST
from tests.wascc.conftest import actor_bytes, actor_path
from wasmlet_wascc import sections
from wasmlet_wascc.provider import WasccProvider


async def event(cluster: ClusterHarness, pod: str, reason: str) -> KubeObject:
    """The pod's event with ``reason`` (events are written asynchronously: poll briefly)."""
    async with asyncio.timeout(10):
        while True:
            for item in await cluster.events_for("default", pod):
                if item["reason"] == reason:
                    return item
            await asyncio.sleep(0.05)


async def test_actor_pods_through_the_api(tmp_path: Path) -> None:
    store = ModuleStore(tmp_path / "modules")
    await store.import_file(actor_path("echo"), "wasmlet.test/echo:v1")
    unsigned = tmp_path / "unsigned.wasm"
    unsigned.write_bytes(sections.strip_custom_sections(actor_bytes("echo"), "jwt"))
    await store.import_file(unsigned, "wasmlet.test/unsigned:v1")
    await store.aclose()
    port = free_port()
    async with ClusterHarness.start(tmp_path) as cluster:
        provider = WasccProvider(timings=FAST)
        async with cluster.node(provider, "actor-node") as agent:
            node = await cluster.api.request("GET", "/api/v1/nodes/actor-node")
            assert node["metadata"]["labels"]["kubernetes.io/arch"] == "wasm32-wascc"
            manifest = pod_manifest(
                "echo",
                image="wasmlet.test/echo:v1",
                node_name=agent.node_name,
                restart_policy="Always",
            )
            manifest["spec"]["containers"][0]["ports"] = [{"containerPort": port}]
            await cluster.create_pod(manifest)
            pod = await cluster.wait_for_pod("default", "echo", phase="Running")
            assert pod["status"]["containerStatuses"][0]["ready"] is True
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/via-api") as response,
            ):
                assert await response.text() == "GET /via-api"
            await event(cluster, "echo", "ActorListening")

            bad = pod_manifest(
                "unsigned", image="wasmlet.test/unsigned:v1", node_name=agent.node_name
            )
            await cluster.create_pod(bad)
            failed = await cluster.wait_for_pod("default", "unsigned", phase="Failed")
            state = failed["status"]["containerStatuses"][0]["state"]["terminated"]
            assert state["reason"] == "ActorNotSigned"
            found = await event(cluster, "unsigned", "ActorNotSigned")
            assert found["type"] == "Warning" and "no jwt section" in found["message"]
