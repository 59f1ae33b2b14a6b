"""The in-process scheduler: nodeSelector, taints/tolerations, max pods, retry on change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, eventually, pod

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def sched(tmp_path: Path) -> AsyncIterator[Client]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=True) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Client(cp, session)


async def node_of(client: Client, name: str) -> str:
    async def bound() -> Any:
        obj = await client.ok("GET", f"{PODS}/{name}")
        return obj["spec"].get("nodeName")

    result: str = await eventually(bound)
    return result


async def unschedulable_message(client: Client, name: str) -> str:
    async def condition() -> Any:
        obj = await client.ok("GET", f"{PODS}/{name}")
        for cond in obj["status"].get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                assert cond["reason"] == "Unschedulable"
                return cond["message"]
        return None

    message: str = await eventually(condition)
    return message


async def events_for(client: Client, name: str) -> list[tuple[str, str]]:
    listed = await client.ok(
        "GET",
        "/api/v1/namespaces/default/events",
        params={"fieldSelector": f"involvedObject.name={name}"},
    )
    return [(e["reason"], e["message"]) for e in listed["items"]]


async def test_binds_to_ready_node_and_records_event(sched: Client) -> None:
    await add_node(sched, "n1")
    await sched.ok("POST", PODS, pod("p"))
    assert await node_of(sched, "p") == "n1"
    bound = await sched.ok("GET", f"{PODS}/p")
    assert {"type": "PodScheduled", "status": "True"}.items() <= next(
        c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"
    ).items()

    async def scheduled_event() -> bool:
        return ("Scheduled", "Successfully assigned default/p to n1") in await events_for(
            sched, "p"
        )

    await eventually(scheduled_event)


async def test_node_selector(sched: Client) -> None:
    await add_node(sched, "plain")
    await add_node(sched, "gpu", labels={"accel": "gpu"})
    await sched.ok("POST", PODS, pod("p", nodeSelector={"accel": "gpu"}))
    assert await node_of(sched, "p") == "gpu"
    await sched.ok("POST", PODS, pod("q", nodeSelector={"accel": "tpu"}))
    message = await unschedulable_message(sched, "q")
    assert message.startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )


async def test_taints_and_tolerations(sched: Client) -> None:
    await add_node(
        sched,
        "tainted",
        taints=[
            {"key": "kubernetes.io/arch", "value": "wasm32-wasi", "effect": "NoExecute"},
            {"key": "dedicated", "value": "x", "effect": "NoSchedule"},
        ],
    )
    await sched.ok("POST", PODS, pod("plain"))
    message = await unschedulable_message(sched, "plain")
    assert "1 node(s) had untolerated taint {kubernetes.io/arch: wasm32-wasi}" in message
    await sched.ok(
        "POST",
        PODS,
        pod(
            "partial",
            tolerations=[
                {
                    "key": "kubernetes.io/arch",
                    "operator": "Equal",
                    "value": "wasm32-wasi",
                    "effect": "NoExecute",
                }
            ],
        ),
    )
    assert "untolerated taint {dedicated: x}" in await unschedulable_message(sched, "partial")
    await sched.ok(
        "POST",
        PODS,
        pod(
            "full",
            tolerations=[
                {"key": "kubernetes.io/arch", "operator": "Exists"},
                {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
            ],
        ),
    )
    assert await node_of(sched, "full") == "tainted"
    await sched.ok("POST", PODS, pod("all", tolerations=[{"operator": "Exists"}]))
    assert await node_of(sched, "all") == "tainted"

    async def failed_event() -> bool:
        return any(r == "FailedScheduling" for r, _ in await events_for(sched, "plain"))

    await eventually(failed_event)


async def test_max_pods_then_capacity_frees(sched: Client) -> None:
    await add_node(sched, "small", pods=1)
    await sched.ok("POST", PODS, pod("first"))
    assert await node_of(sched, "first") == "small"
    await sched.ok("POST", PODS, pod("second"))
    assert "1 Too many pods" in await unschedulable_message(sched, "second")
    # The first pod finishing frees the slot: the second gets scheduled without polling.
    first = await sched.ok("GET", f"{PODS}/first")
    first["status"]["phase"] = "Succeeded"
    await sched.ok("PUT", f"{PODS}/first/status", first)
    assert await node_of(sched, "second") == "small"


async def test_unschedulable_until_node_becomes_ready(sched: Client) -> None:
    await add_node(sched, "n1", ready=False)
    await sched.ok("POST", PODS, pod("p"))
    message = await unschedulable_message(sched, "p")
    assert "node.kubernetes.io/not-ready" in message
    node = await sched.ok("GET", "/api/v1/nodes/n1")
    node["status"]["conditions"][0]["status"] = "True"
    await sched.ok("PUT", "/api/v1/nodes/n1/status", node)
    assert await node_of(sched, "p") == "n1"


async def test_cordoned_node_is_skipped(sched: Client) -> None:
    await add_node(sched, "n1")
    await sched.ok(
        "PATCH",
        "/api/v1/nodes/n1",
        {"spec": {"unschedulable": True}},
        content_type="application/merge-patch+json",
    )
    await sched.ok("POST", PODS, pod("p"))
    assert "node(s) were unschedulable" in await unschedulable_message(sched, "p")
    await sched.ok(
        "PATCH",
        "/api/v1/nodes/n1",
        {"spec": {"unschedulable": False}},
        content_type="application/merge-patch+json",
    )
    assert await node_of(sched, "p") == "n1"


async def test_binding_subresource(client: Client) -> None:
    await client.ok("POST", PODS, pod("p"))
    status, body = await client.post(
        f"{PODS}/p/binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "p"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "n9"},
        },
    )
    assert status == 201 and body["status"] == "Success"
    assert (await client.ok("GET", f"{PODS}/p"))["spec"]["nodeName"] == "n9"
    status, body = await client.post(f"{PODS}/p/binding", {"target": {"name": "n8"}})
    assert status == 409


async def test_max_pods_holds_under_a_burst(sched: Client) -> None:
    import asyncio

    await add_node(sched, "n1", pods=5)
    await asyncio.gather(*(sched.ok("POST", PODS, pod(f"p{i}")) for i in range(8)))

    async def settled() -> Any:
        listed = await sched.ok("GET", PODS)
        bound = [p for p in listed["items"] if p["spec"].get("nodeName")]
        waiting = [
            p
            for p in listed["items"]
            if any(
                c["type"] == "PodScheduled" and c["status"] == "False"
                for c in p["status"].get("conditions") or []
            )
        ]
        return (len(bound), len(waiting)) if len(bound) + len(waiting) == 8 else None

    assert await eventually(settled) == (5, 3)
