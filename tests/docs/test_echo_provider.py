"""The provider from docs/writing-a-provider.md, tested the way the guide says."""

from __future__ import annotations

import sys
from pathlib import Path

from kubelet_core.testing import ClusterHarness, pod_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "examples"))

from echo_provider import EchoProvider


async def test_echo_provider_runs_a_pod(cluster: ClusterHarness) -> None:
    async with cluster.node(EchoProvider(), node_name="echo-node"):
        await cluster.create_pod(pod_manifest("greeter", args=["hello", "world"]))
        pod = await cluster.wait_for_pod("default", "greeter", phase="Succeeded")
        assert pod["spec"]["nodeName"] == "echo-node"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 0
        conditions = {c["type"] for c in pod["status"]["conditions"]}
        assert {"PodScheduled", "Initialized", "Ready", "ContainersReady"} <= conditions
