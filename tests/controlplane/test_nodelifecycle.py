"""Node lifecycle: a quiet kubelet makes its node Unknown and unreachable-tainted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.nodelifecycle import NodeLifecycle
from tests.controlplane.conftest import Client, add_node, eventually

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Client, NodeLifecycle]]:
    async with ControlPlane(tmp_path / "cp", scheduler=False, node_monitor_grace=0.6) as cp:
        assert cp.node_lifecycle is not None
        async with aiohttp.ClientSession() as session:
            yield Client(cp, session), cp.node_lifecycle


def taint_keys(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}


async def test_quiet_node_becomes_unknown_then_recovers(
    env: tuple[Client, NodeLifecycle],
) -> None:
    client, _lifecycle = env
    await add_node(client, "n1")

    async def unknown() -> Any:
        node = await client.ok("GET", "/api/v1/nodes/n1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return node if ready["status"] == "Unknown" else None

    node = await eventually(unknown)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."

    async def tainted() -> bool:
        node = await client.ok("GET", "/api/v1/nodes/n1")
        return taint_keys(node) == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }

    await eventually(tainted)
    # The kubelet is back and reports Ready: the taints go.
    node = await client.ok("GET", "/api/v1/nodes/n1")
    node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    await client.ok("PUT", "/api/v1/nodes/n1/status", node)

    async def untainted() -> bool:
        node = await client.ok("GET", "/api/v1/nodes/n1")
        return not taint_keys(node)

    await eventually(untainted)


async def test_lease_renewals_keep_a_node_alive(env: tuple[Client, NodeLifecycle]) -> None:
    import asyncio

    client, _lifecycle = env
    await add_node(client, "n1")
    lease = await client.ok(
        "POST", LEASES, {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
    )
    for i in range(8):  # 1.6 s of renewals, well past the 0.6 s grace
        lease["spec"]["renewTime"] = f"2026-01-01T00:00:0{i}.000000Z"
        lease = await client.ok("PUT", f"{LEASES}/n1", lease)
        await asyncio.sleep(0.2)
    node = await client.ok("GET", "/api/v1/nodes/n1")
    assert next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert not taint_keys(node)


async def test_not_ready_node_gets_not_ready_taints(env: tuple[Client, NodeLifecycle]) -> None:
    client, _lifecycle = env
    await add_node(client, "n1", ready=False)

    async def tainted() -> bool:
        node = await client.ok("GET", "/api/v1/nodes/n1")
        return ("node.kubernetes.io/not-ready", "NoSchedule") in taint_keys(node)

    await eventually(tainted)
