"""Requests/s and latency through the echo actor: ``python -m tests.wascc.bench_echo``.

The node (WasccProvider, echo pod, its HTTP server) runs in this process; the
load comes from a separate process (so the client does not share the GIL),
with ``--concurrency`` keep-alive connections each sending GETs back to back
for ``--seconds``.  Every request is one ``HandleRequest`` guest call that
makes one ``wascc:logging`` host call (a line appended to the log file).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from kubelet_core._modules import ModuleStore
from kubelet_core._provider.base import ProviderContext
from wasmlet_wascc.provider import WasccProvider

ECHO = Path(__file__).resolve().parents[2] / "testdata" / "actors" / "echo.wasm"


def _client(url: str, concurrency: int, seconds: float, queue: Any) -> None:
    async def main() -> list[float]:
        latencies: list[float] = []
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(20):  # warm up
                async with session.get(url) as response:
                    await response.read()
            end = time.perf_counter() + seconds

            async def worker() -> None:
                while time.perf_counter() < end:
                    began = time.perf_counter()
                    async with session.get(url) as response:
                        await response.read()
                        assert response.status == 200
                    latencies.append(time.perf_counter() - began)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies

    queue.put(asyncio.run(main()))


async def run(concurrency: int, seconds: float, instances: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        running = asyncio.Event()
        store = ModuleStore(root / "modules")
        await store.import_file(ECHO, "wasmlet.bench/echo:v1")
        provider = WasccProvider(module_store=store, instances_per_actor=instances)
        context = ProviderContext(
            node_name="bench",
            node_ip="127.0.0.1",
            data_dir=root / "node",
            notify_pod_status=lambda pod, status: (
                running.set() if status.get("phase") == "Running" else None
            ),
            record_event=lambda *args: None,
            modules_dir=root / "modules",
        )
        await provider.start(context)
        uid = str(uuid.uuid4())
        pod = {
            "metadata": {"name": "echo", "namespace": "default", "uid": uid},
            "spec": {"containers": [{"name": "actor", "image": "wasmlet.bench/echo:v1"}]},
        }
        await provider.create_pod(pod)
        await running.wait()
        url = provider.actors[(uid, "actor")].endpoints[0] + "/bench?x=1"
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        process = ctx.Process(target=_client, args=(url, concurrency, seconds, queue))
        process.start()
        latencies: list[float] = await asyncio.to_thread(queue.get)
        await asyncio.to_thread(process.join)
        await provider.delete_pod(pod, 2.0)
        await provider.shutdown()
        await store.aclose()
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval")
    args = parser.parse_args()
    if args.switch_interval:
        import sys

        sys.setswitchinterval(args.switch_interval)
    print("instances concurrency requests    req/s   p50 ms   p99 ms")
    for instances in args.instances:
        for concurrency in args.concurrency:
            result = asyncio.run(run(concurrency, args.seconds, instances))
            print(
                f"{instances:9d} {concurrency:11d} {result['requests']:8.0f} "
                f"{result['rps']:8.0f} {result['p50_ms']:8.2f} {result['p99_ms']:8.2f}"
            )


if __name__ == "__main__":
    main()
