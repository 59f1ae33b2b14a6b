"""Many nodes in one process (NodeFleet): one client, one pod watch, every node real."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubelet_core import (
    ApiClientConfig,
    HeartbeatConfig,
    IdentityConfig,
    NodeConfig,
    NodeFleet,
    ShutdownConfig,
    StorageConfig,
)
from kubelet_core._apiclient import KubeApi
from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.resources import PODS
from kubelet_core.testing import SimulatedProvider
from tests.node.conftest import condition, pod_manifest, wait_for

PODS_PATH = "/api/v1/namespaces/default/pods"


def fleet_configs(cp: ControlPlane, tmp_path: Path, count: int) -> list[NodeConfig]:
    return [
        NodeConfig(
            identity=IdentityConfig(name=f"sim-{index}"),
            api=ApiClientConfig(kubeconfig=cp.kubeconfig_path),
            heartbeat=HeartbeatConfig(lease_renew_interval_seconds=1.0),
            storage=StorageConfig(data_dir=tmp_path),
            shutdown=ShutdownConfig(keep_pods_on_exit=False),
        )
        for index in range(count)
    ]


async def test_a_fleet_runs_its_nodes_pods_through_one_watch(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    fleet = NodeFleet(lambda _name: SimulatedProvider(), fleet_configs(cp, tmp_path, 6))
    await fleet.start()
    try:
        for index in range(6):  # start() returns once registered; Ready follows
            await wait_for(
                api,
                "/api/v1/nodes",
                f"sim-{index}",
                lambda n: (condition(n, "Ready") or {}).get("status") == "True",
            )
        for agent in fleet.agents:  # each node counts its own requests, not the fleet's
            created = [
                s.value
                for metric in agent.metrics.registry.collect()
                if metric.name == "wasmlet_api_requests"
                for s in metric.samples
                if s.name.endswith("_total")
                and s.labels["verb"] == "POST"
                and s.labels["resource"] == "nodes"
            ]
            assert sum(created) == 1, agent.node_name
        assert cp.store is not None
        assert len(cp.store._watchers[PODS.key]) == 1  # one pod watch for six nodes
        for index in range(6):
            await api.create(PODS_PATH, pod_manifest(f"p{index}", node=f"sim-{index}"))
        for index in range(6):
            pod = await wait_for(
                api, PODS_PATH, f"p{index}", lambda p: p["status"].get("phase") == "Running"
            )
            assert pod["spec"]["nodeName"] == f"sim-{index}"
        # Each node sees only its own pods.
        caches = [sorted(agent.watcher.cache) for agent in fleet.agents if agent.watcher]
        assert caches == [[f"default/p{index}"] for index in range(6)]
        await api.delete(f"{PODS_PATH}/p3", grace_period_seconds=0)
        await asyncio.wait_for(fleet.agents[3].watcher.empty.wait(), 15)  # type: ignore[union-attr]
    finally:
        await fleet.stop()
    for index in range(6):  # every node marked NotReady on the way out
        node = await api.get(f"/api/v1/nodes/sim-{index}")
        assert (condition(node, "Ready") or {}).get("status") == "False"


async def test_a_simulated_node_takes_pods_that_name_its_runtime_class(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    """``runtimeClassName: wasmlet-sim`` alone places a pod on a simulated node (the
    class selects nodes by the handler label every node sets for what it serves)."""
    from kubelet_core._controlplane.runtimeclass import ensure_runtime_classes, runtime_classes_for

    assert cp.registry is not None
    await ensure_runtime_classes(
        cp.registry, runtime_classes_for(SimulatedProvider().node_profile())
    )
    fleet = NodeFleet(lambda _name: SimulatedProvider(), fleet_configs(cp, tmp_path, 2))
    await fleet.start()
    try:
        pod = pod_manifest("by-class", node=None)
        pod["spec"]["runtimeClassName"] = "wasmlet-sim"
        pod["spec"].pop("tolerations", None)
        await api.create(PODS_PATH, pod)
        running = await wait_for(
            api, PODS_PATH, "by-class", lambda p: p["status"].get("phase") == "Running"
        )
        assert running["spec"]["nodeName"] in {"sim-0", "sim-1"}
    finally:
        await fleet.stop()
