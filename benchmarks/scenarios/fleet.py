"""Many nodes in one process (issue: a library others can build on, item 3).

``--fleet-sizes`` (default 1, 100, 1000) simulated nodes run by one agent process
(``wasmlet node --provider sim --nodes N``: a NodeFleet with one client and one
shared pod watch; the sim provider runs nothing, as kwok's nodes), each given one
pod bound to it.  Reported per size: seconds until every node is Ready and every
pod Running, the process's RSS (total and per node), and over an idle window of
``--idle-seconds`` its CPU and API requests per minute (total and per node:
lease renewals dominate, 6 a minute per node at kubelet's 10 s).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks import pods
from benchmarks.context import Bench, Figures
from benchmarks.pods import RUN_LABEL
from benchmarks.processes import AgentProcess
from kubelet_core._apiclient import ApiError


def _pod(name: str, node: str, run: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": pods.NAMESPACE, "labels": {RUN_LABEL: run}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "sim.wasmlet.dev/idle:1"}],
        },
    }


async def _count(bench: Bench, path: str, label: str, done: Any) -> int:
    listing = await bench.api.request("GET", path, params={"labelSelector": label})
    return sum(1 for item in listing.get("items") or [] if done(item))


def _ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


async def _until(bench: Bench, what: str, check: Any, want: int, timeout: float) -> float:
    started = time.monotonic()
    while True:
        have = await check()
        if have >= want:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: {have} of {want} after {timeout:.0f}s")
        await asyncio.sleep(0.5)


async def one_size(bench: Bench, size: int) -> Figures:
    name = bench.node(f"fleet-{size}")
    run = bench.run_label(f"fleet-{size}")
    bench.node_data.mkdir(parents=True, exist_ok=True)
    agent = AgentProcess(
        bench.kubeconfig,
        bench.node_data,
        name,
        provider="sim",
        nodes=size,
        qps=bench.params.agent_qps,
        burst=bench.params.agent_burst,
    )
    node_names = [f"{name}-{i}" for i in range(size)] if size > 1 else [name]
    started = time.monotonic()
    await agent.start()
    try:

        async def ready_nodes() -> int:
            listing = await bench.api.request("GET", "/api/v1/nodes")
            wanted = set(node_names)
            return sum(
                1
                for node in listing.get("items") or []
                if node["metadata"]["name"] in wanted and _ready(node)
            )

        bench.say(f"fleet: {size} nodes starting")
        ready_s = await _until(bench, "nodes Ready", ready_nodes, size, bench.params.timeout)
        for chunk in range(0, size, 64):
            await asyncio.gather(
                *(
                    bench.api.request(
                        "POST",
                        pods.pods_path(),
                        body=_pod(f"{name}-pod-{i}", node_names[i], run),
                    )
                    for i in range(chunk, min(size, chunk + 64))
                )
            )

        async def running() -> int:
            return await _count(
                bench,
                pods.pods_path(),
                f"{RUN_LABEL}={run}",
                lambda p: (p.get("status") or {}).get("phase") == "Running",
            )

        running_s = await _until(bench, "pods Running", running, size, bench.params.timeout)
        seconds = bench.params.idle_seconds
        bench.say(f"fleet: {size} nodes idle for {seconds:.0f}s")
        before, sample_before = await agent.api_requests(), agent.sample()
        await asyncio.sleep(seconds)
        sample_after, after = agent.sample(), await agent.api_requests()
        elapsed = sample_after.at - sample_before.at
        calls = sum(after.values()) - sum(before.values())
        rss = sample_after.rss_bytes / 1024 / 1024
        cpu = 100 * (sample_after.cpu_seconds - sample_before.cpu_seconds) / elapsed
        return {
            "nodes": size,
            "all_ready_s": round(ready_s, 2),
            "all_running_s": round(running_s, 2),
            "start_to_running_s": round(time.monotonic() - started, 2),
            "rss_mib": round(rss, 1),
            "rss_per_node_kib": round(rss * 1024 / size, 1),
            "idle_cpu_percent": round(cpu, 2),
            "idle_cpu_percent_per_node": round(cpu / size, 4),
            "api_requests_per_min": round(calls * 60 / elapsed, 1),
            "api_requests_per_min_per_node": round(calls * 60 / elapsed / size, 2),
            "threads": sample_after.threads,
        }
    finally:
        await agent.stop()
        try:
            await bench.cleanup(run)
        except ApiError:
            pass
        for node in node_names:
            await bench.forget_node(node)


async def run(bench: Bench) -> Figures:
    figures = [await one_size(bench, size) for size in bench.params.fleet_sizes]
    base = figures[0]
    for size in figures[1:]:  # what one more node costs, the process's own share aside
        extra = size["nodes"] - base["nodes"]
        if extra > 0:
            size["rss_marginal_per_node_kib"] = round(
                (size["rss_mib"] - base["rss_mib"]) * 1024 / extra, 1
            )
    return {"sizes": figures}
