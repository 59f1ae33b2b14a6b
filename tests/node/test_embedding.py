"""Embedding: several agents in one process with default config, and one lifecycle.

Defaults must not collide (kubelet API port 0, state per node name), and a
controller that fails stops its agent, its error raised by ``run()`` or
``start()`` instead of the part vanishing while the node looks healthy.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import pytest

from kubelet_core import (
    ApiClientConfig,
    ControllerFailed,
    IdentityConfig,
    KubeletApiConfig,
    NodeAgent,
    NodeConfig,
)
from kubelet_core._apiclient import KubeApi, node_path
from kubelet_core._controlplane import ControlPlane
from tests.node.conftest import condition, pod_manifest, running, wait_for
from tests.node.scripted import ScriptedProvider


async def test_two_agents_with_default_config_share_a_process(
    cp: ControlPlane, api: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where the default data dir is
    configs = [
        NodeConfig(
            identity=IdentityConfig(name=name),
            api=ApiClientConfig(kubeconfig=cp.kubeconfig_path),
        )
        for name in ("left", "right")
    ]
    providers = [ScriptedProvider(), ScriptedProvider()]
    async with (
        running(providers[0], configs[0]) as left,
        running(providers[1], configs[1]) as right,
    ):
        ports = {left.advertised_port, right.advertised_port}
        assert len(ports) == 2 and 0 not in ports
        for agent in (left, right):
            node = await wait_for(
                api, "/api/v1/nodes", agent.node_name,
                lambda n: (condition(n, "Ready") or {}).get("status") == "True",
            )  # fmt: skip
            endpoint = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            assert endpoint == agent.advertised_port
            await api.create(
                "/api/v1/namespaces/default/pods",
                pod_manifest(f"on-{agent.node_name}", agent.node_name),
            )
        for agent in (left, right):
            await wait_for(
                api, "/api/v1/namespaces/default/pods", f"on-{agent.node_name}",
                lambda p: p.get("status", {}).get("phase") == "Running",
            )  # fmt: skip
        assert [sorted(p.pods) for p in providers] == [["default/on-left"], ["default/on-right"]]
        home = tmp_path / "home" / ".wasmlet"
        assert {c.node_dir for c in configs} == {home / "nodes" / "left", home / "nodes" / "right"}
        assert all(c.node_dir.is_dir() for c in configs)


class Crashes:
    """A controller that fails once the agent runs."""

    name = "crashes"

    def __init__(self) -> None:
        self.ready = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        self.ready.set()
        raise RuntimeError("boom")


async def test_a_crashed_controller_stops_the_agent_and_run_raises(
    api: KubeApi, node_config, provider: ScriptedProvider
) -> None:
    agent = NodeAgent(provider, node_config())
    await agent.start()
    runner = asyncio.ensure_future(agent.run())
    agent.controllers.start(Crashes())
    with pytest.raises(ControllerFailed, match="crashes") as raised:
        await asyncio.wait_for(runner, 15)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert provider.shut_down
    node = await api.get(node_path("node-a"))
    assert condition(node, "Ready")["status"] == "False"


async def test_a_controller_that_cannot_start_fails_start(
    node_config, provider: ScriptedProvider
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = node_config(kubelet_api=KubeletApiConfig(port=port))
        agent = NodeAgent(provider, config)
        with pytest.raises(ControllerFailed, match="kubelet-api") as raised:
            await asyncio.wait_for(agent.run(), 15)
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.EADDRINUSE
    assert provider.context is None  # nothing went on after the failure
