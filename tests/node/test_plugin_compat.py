"""The pytest plugin's ``run_node`` drives this agent (the contract provider authors use)."""

from __future__ import annotations

from tests.node.conftest import pod_manifest
from tests.node.scripted import ScriptedProvider


async def test_run_node_fixture_runs_a_pod(cluster, run_node):
    provider = ScriptedProvider()
    async with run_node(provider, "plugin-node") as agent:
        assert agent.node_name == "plugin-node"
        await cluster.create_pod(pod_manifest("via-plugin", node="plugin-node"))
        pod = await cluster.wait_for_pod("default", "via-plugin", phase="Running")
        assert pod["status"]["hostIP"] == "127.0.0.1"
    assert provider.shut_down
