"""Node lifecycle, taint eviction and pod GC, on a clock the test moves (no sleeps).

Each test advances a ManualClock past a deadline (node-monitor grace,
tolerationSeconds, the PodGC quarantine) and then waits until the controllers
have reacted (``settle``): expectations are then checked over HTTPS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.clock import ManualClock
from tests.controlplane.conftest import Client, add_node, pod

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
PODS = "/api/v1/namespaces/default/pods"
GRACE = 40.0


class Env:
    def __init__(self, cp: ControlPlane, client: Client, clock: ManualClock) -> None:
        self.cp, self.client, self.clock = cp, client, clock

    async def settle(self) -> None:
        """Wait until node lifecycle, taint eviction and pod GC have nothing left to do."""
        loops = [
            c.loop
            for c in (self.cp.node_lifecycle, self.cp.taint_eviction, self.cp.pod_gc)
            if c is not None
        ]
        while True:
            for loop in loops:
                await loop.settled()
            await self.cp.registry.drain() if self.cp.registry else None
            if all(loop.is_settled() for loop in loops):
                return

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.settle()

    async def node(self, name: str = "n1") -> Any:
        return await self.client.ok("GET", f"/api/v1/nodes/{name}")

    async def pod(self, name: str) -> tuple[int, Any]:
        return await self.client.get(f"{PODS}/{name}")


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = ManualClock()
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False, node_monitor_grace=GRACE, clock=clock) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Env(cp, Client(cp, session), clock)


def taint_keys(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


UNREACHABLE = {
    ("node.kubernetes.io/unreachable", "NoSchedule"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
}


async def test_quiet_node_becomes_unknown_then_recovers(env: Env) -> None:
    await add_node(env.client, "n1")
    await env.advance(GRACE - 1)
    assert ready(await env.node())["status"] == "True"
    await env.advance(2)
    node = await env.node()
    assert ready(node)["status"] == "Unknown"
    assert ready(node)["reason"] == "NodeStatusUnknown"
    assert ready(node)["message"] == "Kubelet stopped posting node status."
    assert taint_keys(node) == UNREACHABLE
    # The kubelet is back and reports Ready: the taints go.
    node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    await env.client.ok("PUT", "/api/v1/nodes/n1/status", node)
    await env.settle()
    assert not taint_keys(await env.node())


async def test_lease_renewals_keep_a_node_alive(env: Env) -> None:
    await add_node(env.client, "n1")
    lease = await env.client.ok(
        "POST", LEASES, {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
    )
    for i in range(8):  # 80 s of renewals every 10 s, well past the 40 s grace
        lease["spec"]["renewTime"] = f"2026-01-01T00:00:0{i}.000000Z"
        lease = await env.client.ok("PUT", f"{LEASES}/n1", lease)
        await env.advance(10)
    node = await env.node()
    assert ready(node)["status"] == "True"
    assert not taint_keys(node)


async def test_not_ready_node_gets_not_ready_taints(env: Env) -> None:
    await add_node(env.client, "n1", ready=False)
    await env.settle()
    assert taint_keys(await env.node()) == {
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
    }


async def test_conditions_taint_the_node_and_the_scheduler_avoids_it(tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        ControlPlane(tmp_path / "cp", node_monitor_grace=GRACE, clock=clock) as cp,
        aiohttp.ClientSession() as session,
    ):
        env = Env(cp, Client(cp, session), clock)
        node = await add_node(env.client, "n1")
        node["status"]["conditions"] += [
            {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"},
            {"type": "MemoryPressure", "status": "False"},
            {"type": "PIDPressure", "status": "True"},
        ]
        await env.client.ok("PUT", "/api/v1/nodes/n1/status", node)
        await env.settle()
        assert taint_keys(await env.node()) == {
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        }
        await env.client.ok("POST", PODS, pod("p"))

        async def unschedulable() -> Any:
            _code, body = await env.pod("p")
            conds = body["status"].get("conditions") or []
            return next((c for c in conds if c["type"] == "PodScheduled"), None)

        from tests.controlplane.conftest import eventually

        scheduled = await eventually(unschedulable)
        assert scheduled["status"] == "False"
        assert "untolerated taint {node.kubernetes.io/disk-pressure: }" in scheduled["message"]
        # Cordoning is a taint too.
        node = await env.node()
        node["spec"]["unschedulable"] = True
        await env.client.ok("PUT", "/api/v1/nodes/n1", node)
        await env.settle()
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in taint_keys(await env.node())


def running(name: str, node: str = "n1", **spec: Any) -> dict[str, Any]:
    return pod(name, nodeName=node, **spec)


async def make_running(env: Env, name: str, **spec: Any) -> None:
    created = await env.client.ok("POST", PODS, running(name, **spec))
    created["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    await env.client.ok("PUT", f"{PODS}/{name}/status", created)


async def test_pods_of_an_unknown_node_are_not_ready_then_evicted_after_300s(env: Env) -> None:
    await add_node(env.client, "n1")
    await make_running(env, "default-tolerations")
    await make_running(
        env,
        "short",
        tolerations=[
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 30,
            }
        ],
    )
    await make_running(env, "forever", tolerations=[{"operator": "Exists"}])
    await env.advance(GRACE + 1)
    for name in ("default-tolerations", "short", "forever"):
        _code, body = await env.pod(name)
        assert ready(body)["status"] == "False", name  # MarkPodsNotReady
    await env.advance(29)
    assert (await env.pod("short"))[0] == 200
    await env.advance(1)
    _code, short = await env.pod("short")
    assert short["metadata"]["deletionTimestamp"]
    target = next(c for c in short["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert target["reason"] == "DeletionByTaintManager"
    assert "deletionTimestamp" not in (await env.pod("default-tolerations"))[1]["metadata"]
    await env.advance(270)  # 300 s under the taint
    assert (await env.pod("default-tolerations"))[1]["metadata"]["deletionTimestamp"]
    await env.advance(3600)
    assert "deletionTimestamp" not in (await env.pod("forever"))[1]["metadata"]


async def test_untolerated_no_execute_taint_evicts_at_once_and_recovery_cancels(env: Env) -> None:
    await add_node(env.client, "n1")
    await make_running(env, "p")
    await env.advance(GRACE + 1)  # unreachable: p has 300 s
    node = await env.node()
    node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    await env.client.ok("PUT", "/api/v1/nodes/n1/status", node)
    await env.settle()
    await env.advance(400)  # the taint went before 300 s: nothing happens
    assert "deletionTimestamp" not in (await env.pod("p"))[1]["metadata"]
    node = await env.node()
    node["spec"]["taints"] = [{"key": "dedicated", "value": "x", "effect": "NoExecute"}]
    await env.client.ok("PUT", "/api/v1/nodes/n1", node)
    await env.settle()
    assert (await env.pod("p"))[1]["metadata"]["deletionTimestamp"]


async def test_pods_of_a_deleted_node_are_collected_after_the_quarantine(env: Env) -> None:
    await add_node(env.client, "n1")
    await make_running(env, "p")
    await env.client.ok("DELETE", f"{PODS}/p")  # graceful: waits for a kubelet
    await env.client.ok("DELETE", "/api/v1/nodes/n1")
    await env.advance(39)
    assert (await env.pod("p"))[0] == 200
    await env.advance(1)
    code, _body = await env.pod("p")
    assert code == 404


async def test_a_node_back_in_time_keeps_its_pods(env: Env) -> None:
    await make_running(env, "p")  # bound to a node that does not exist yet
    await env.advance(20)
    await add_node(env.client, "n1")
    await env.advance(60)
    assert (await env.pod("p"))[0] == 200
