"""Actors (issue 7, scenario 6): HTTP requests per second through the echo actor.

A ``wascc`` node agent (its own process) runs the signed echo actor from
testdata/actors as a pod whose ``containerPort`` is its HTTP server; the driver
then keeps ``--actor-concurrency`` keep-alive connections busy for
``--actor-seconds`` and records each request's latency.  Each request is one
guest call into the actor.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path

import aiohttp

from benchmarks.context import Bench, Figures
from benchmarks.pods import PodTracker, create_all, pod
from benchmarks.stats import summary_ms
from kubelet_core._modules import ModuleStore

ECHO = Path(__file__).resolve().parents[2] / "testdata" / "actors" / "echo.wasm"
IMAGE = "wasmlet.bench/echo:v1"


def free_port_in(low: int = 30000, high: int = 32767) -> int:
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the actor port range")


async def load(url: str, concurrency: int, seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(20):  # warm up: connections, instance pool
            async with http.get(url) as response:
                await response.read()
        began = time.perf_counter()
        end = began + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, errors, time.perf_counter() - began


async def run(bench: Bench) -> Figures:
    if not ECHO.exists():
        return {"skipped": f"{ECHO} missing (nox -s wasm builds it)"}
    store = ModuleStore(bench.node_data / "modules")
    try:
        await store.import_file(ECHO, IMAGE)
    finally:
        await store.aclose()
    port = free_port_in()
    label = bench.run_label("actors")
    node = bench.node("actors")
    async with (
        bench.agent(node, provider="wascc") as agent,
        PodTracker(bench.api, label) as tracker,
    ):
        manifest = pod(f"{label}-echo", node, label, image=IMAGE, restart_policy="Always")
        manifest["spec"]["containers"][0]["ports"] = [{"containerPort": port}]
        await create_all(bench.api, [manifest])
        name = manifest["metadata"]["name"]
        if not await tracker.wait_for(lambda: name in tracker.running, 60):
            raise TimeoutError("echo actor pod not Running within 60s")
        bench.say(
            f"actors: echo Running on port {port}; "
            f"{bench.params.actor_concurrency} connections for "
            f"{bench.params.actor_seconds:.0f}s"
        )
        cpu_before = agent.sample()
        latencies, errors, elapsed = await load(
            f"http://127.0.0.1:{port}/bench?x=1",
            bench.params.actor_concurrency,
            bench.params.actor_seconds,
        )
        cpu_after = agent.sample()
    figures: Figures = {
        "concurrency": bench.params.actor_concurrency,
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / elapsed,
        "agent_cpu_percent": 100
        * (cpu_after.cpu_seconds - cpu_before.cpu_seconds)
        / (cpu_after.at - cpu_before.at),
        **summary_ms(latencies),
    }
    figures.pop("count")
    return figures
