"""A burst of 1,000 pods: created, scheduled over three nodes and seen by per-node watches.

Guards against per-event costs that grow with the number of objects or watchers (the
bound is loose on purpose: it fails on quadratic behaviour, not on a slow machine).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node

PODS = 1000


@pytest.fixture
async def sched(tmp_path: Path) -> AsyncIterator[Client]:
    async with ControlPlane(tmp_path / "cp") as cp:
        connector = aiohttp.TCPConnector(limit=32)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Client(cp, session)


@pytest.mark.slow
async def test_thousand_pods_are_created_bound_and_watched(sched: Client) -> None:
    nodes = ["n1", "n2", "n3"]
    for name in nodes:
        await add_node(sched, name, pods=400)
    listed = await sched.ok("GET", "/api/v1/pods")
    rv = listed["metadata"]["resourceVersion"]
    seen: dict[str, set[str]] = {name: set() for name in nodes}
    all_seen = asyncio.Event()

    async def watch(node: str) -> None:
        resp = await sched.session.get(
            sched.cp.url + "/api/v1/pods",
            params={"watch": "1", "resourceVersion": rv, "fieldSelector": f"spec.nodeName={node}"},
            ssl=sched.ssl,
        )
        async for line in resp.content:
            event = json.loads(line)
            if event["type"] == "ADDED":
                seen[node].add(event["object"]["metadata"]["name"])
                if sum(len(s) for s in seen.values()) == PODS:
                    all_seen.set()

    watchers = [asyncio.create_task(watch(node)) for node in nodes]
    start = time.monotonic()

    async def create(i: int) -> None:
        await sched.ok(
            "POST",
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": f"p{i}"},
                "spec": {"containers": [{"name": "c", "image": "example/app:1"}]},
            },
        )

    await asyncio.gather(*(create(i) for i in range(PODS)))
    await asyncio.wait_for(all_seen.wait(), 30)
    elapsed = time.monotonic() - start
    for task in watchers:
        task.cancel()
    counts = sorted(len(s) for s in seen.values())
    assert sum(counts) == PODS
    assert counts[-1] - counts[0] <= 1  # spread evenly: the least loaded node wins
    assert elapsed < 20, f"{PODS} pods took {elapsed:.1f}s"
