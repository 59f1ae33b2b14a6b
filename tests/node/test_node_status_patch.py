"""The node status write is kubelet's strategic merge patch, without a resourceVersion.

A writer that changes the Node between the agent's read and its write (the node
lifecycle controller marking Ready Unknown, a route controller adding a condition)
causes no conflict and no redo, and both writers' changes are kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from kubelet_core._apiclient import KubeApi, node_path
from kubelet_core._controlplane import ControlPlane
from kubelet_core._node.description import NodeDescription
from kubelet_core._node.registration import register_node
from kubelet_core._node.status import NodeStatusReporter
from kubelet_core._provider import KubeObject
from tests.node.conftest import condition

NODE = node_path("node-a")


class WriterInBetween(KubeApi):
    """A real client that lets another writer change the Node right after it is read."""

    reads = 0
    in_between: Callable[[], Awaitable[None]] | None = None

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> KubeObject:
        node = await super().get(path, params=params)
        if path == NODE:
            self.reads += 1
            if self.in_between is not None:
                other, self.in_between = self.in_between, None
                await other()
        return node


def description() -> NodeDescription:
    return NodeDescription(
        name="node-a",
        node_ip="127.0.0.1",
        port=10250,
        labels={"kubernetes.io/hostname": "node-a"},
        taints=[],
        capacity={"cpu": "2", "memory": "1Gi", "pods": "10"},
        node_info={"kubeletVersion": "v1.36.0-wasmlet", "operatingSystem": "linux"},
    )


async def mark_unknown_and_add_a_route(api: KubeApi) -> None:
    """What the node lifecycle controller and a route controller would write: a full
    status update carrying the resourceVersion just read (so the Node's changes)."""
    node = await api.get(NODE)
    conditions = [
        {**c, "status": "Unknown", "reason": "NodeStatusUnknown"} if c["type"] == "Ready" else c
        for c in node["status"]["conditions"]
    ]
    conditions.append(
        {
            "type": "NetworkUnavailable",
            "status": "False",
            "reason": "RouteCreated",
            "message": "route created",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    )
    node["status"]["conditions"] = conditions
    await api.update_status(NODE, node)


async def test_a_status_write_keeps_a_change_made_between_read_and_write(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    agent_api = await WriterInBetween.from_kubeconfig(cp.kubeconfig_path)
    try:
        desc = description()
        await register_node(agent_api, desc)
        reporter = NodeStatusReporter(
            agent_api,
            desc,
            tmp_path,
            report_interval=60.0,
            check_interval=60.0,
            reregister=lambda: register_node(agent_api, desc),
        )
        assert await reporter.report(force=True)

        agent_api.reads = 0
        agent_api.in_between = lambda: mark_unknown_and_add_a_route(api)
        await reporter.mark_not_ready("runtime is down")
    finally:
        await agent_api.close()

    assert agent_api.reads == 1  # one read, one write: no conflict, no redo
    node = await api.get(NODE)
    ready = condition(node, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "KubeletNotReady",
        "runtime is down",
    )
    route = condition(node, "NetworkUnavailable")
    assert route is not None and route["reason"] == "RouteCreated"
    types = [c["type"] for c in node["status"]["conditions"]]
    assert types == ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]
