"""Start latency, and the floor it is compared with (issue 7, scenarios 1 and 5).

In one run, against one control plane: a single pod at a time (repeated, to have a
distribution) and ``--pods`` pods created at once, on wasmlet -- the cached hello
module run to completion, and the scripted module staying Running -- and on the
floor client (:mod:`benchmarks.floor`), which only patches status to Running.
Single pods alternate between wasmlet and the floor so both see the same noise
(the earlier ones keep running: deleting a sleeping module takes its grace period).
The overhead ratio is wasmlet's staying-Running latency over the floor's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks.context import COMPONENT, Bench, Figures
from benchmarks.pods import KubeObject, PodTracker, create_all, delete_all, pod, sleeper
from benchmarks.processes import (
    AGENT_DEFAULT_BURST,
    AGENT_DEFAULT_QPS,
    Child,
    running,
    wait_quiet,
    wait_until,
)
from benchmarks.stats import ratio, summary_ms


async def run(bench: Bench) -> Figures:
    params = bench.params
    agent_node, floor_node = bench.node("start"), bench.node("floor")
    floor = Child(
        "floor",
        [
            sys.executable,
            "-m",
            "benchmarks.floor",
            "--kubeconfig",
            str(bench.kubeconfig),
            "--node",
            floor_node,
        ],
        bench.root / "floor.log",
    )
    label = bench.run_label("start")
    async with (
        bench.agent(agent_node, max_pods=2 * params.pods + params.single_repeats + 10) as agent,
        running(floor),
        PodTracker(bench.api, label) as tracker,
    ):

        async def one(
            name: str, node: str, *, hello: bool = False, image: str | None = None
        ) -> None:
            if image is not None:  # runs to completion, like hello
                manifest, hello = pod(name, node, label, image=image, args=["bench"]), True
            else:
                manifest = pod(name, node, label) if hello else sleeper(name, node, label)
            await create_all(bench.api, [manifest])
            ends = tracker.succeeded if hello else tracker.running
            if not await tracker.wait_for(lambda: name in ends, 60):
                raise TimeoutError(f"pod {name} did not start within 60s")

        async def remove(names: list[str], node: str) -> None:
            await delete_all(bench.api, names, grace=0 if node == floor_node else None)
            await tracker.wait_for(lambda: all(n in tracker.deleted for n in names), params.timeout)

        bench.say("start: warming up (module compile cache, floor node)")
        await _wait_floor_node(bench, floor_node)
        await one(f"{label}-warm-hello", agent_node, hello=True)
        await one(f"{label}-warm-sleep", agent_node)
        await one(f"{label}-warm-floor", floor_node)
        await remove([f"{label}-warm-floor"], floor_node)

        singles: list[str] = []
        floor_singles: list[str] = []
        for i in range(params.single_repeats):
            singles.append(f"{label}-one-{i}")
            floor_singles.append(f"{label}-floor-one-{i}")
            await one(singles[-1], agent_node)
            await one(floor_singles[-1], floor_node)
        await remove(floor_singles, floor_node)
        bench.say(f"start: {params.single_repeats} single pods on wasmlet and on the floor done")
        # A core module and a component that each print and exit, one at a time.
        await one(f"{label}-warm-component", agent_node, image=COMPONENT)
        module_runs: list[str] = []
        component_runs: list[str] = []
        for i in range(params.single_repeats):
            module_runs.append(f"{label}-module-{i}")
            component_runs.append(f"{label}-component-{i}")
            await one(module_runs[-1], agent_node, hello=True)
            await one(component_runs[-1], agent_node, image=COMPONENT)
        await remove([*module_runs, *component_runs, f"{label}-warm-component"], agent_node)

        # Each batch is "N pods at once" on a node whose API budget is whole again:
        # quiet for as long as its burst takes to refill (the pods before spent it).
        qps = params.agent_qps or AGENT_DEFAULT_QPS
        refill = max(2.0, (params.agent_burst or AGENT_DEFAULT_BURST) / qps)
        async with bench.profiled(agent, "start"):
            await wait_quiet(agent, window=refill)
            hello = [f"{label}-hello-{i}" for i in range(params.pods)]
            await _batch(
                bench,
                tracker,
                [pod(n, agent_node, label) for n in hello],
                lambda: all(n in tracker.succeeded for n in hello),
                "hello Succeeded",
            )
            await wait_quiet(agent, window=refill)
            sleep = [f"{label}-sleep-{i}" for i in range(params.pods)]
            await _batch(
                bench,
                tracker,
                [sleeper(n, agent_node, label) for n in sleep],
                lambda: all(n in tracker.running for n in sleep),
                "sleepers Running",
            )
        await remove([f"{label}-warm-sleep", *singles, *hello, *sleep], agent_node)
        floor_batch = [f"{label}-floor-{i}" for i in range(params.pods)]
        await _batch(
            bench,
            tracker,
            [sleeper(n, floor_node, label) for n in floor_batch],
            lambda: all(n in tracker.running for n in floor_batch),
            "floor Running",
        )
        await remove(floor_batch, floor_node)
    await bench.forget_node(floor_node)

    lat = tracker.latencies
    figures: Figures = {
        "single": {
            "wasmlet_running": summary_ms(lat(singles, tracker.running)),
            "floor_running": summary_ms(lat(floor_singles, tracker.running)),
            # To Succeeded: a core module's and a WASI 0.2 component's whole run.
            "module_succeeded": summary_ms(lat(module_runs, tracker.succeeded)),
            "component_succeeded": summary_ms(lat(component_runs, tracker.succeeded)),
        },
        "batch": {
            "hello_running": summary_ms(lat(hello, tracker.running)),
            "hello_succeeded": summary_ms(lat(hello, tracker.succeeded)),
            "hello_failed": sum(1 for n in hello if n in tracker.failed),
            "wasmlet_running": summary_ms(lat(sleep, tracker.running)),
            "floor_running": summary_ms(lat(floor_batch, tracker.running)),
        },
        "samples_s": {
            "single_wasmlet": lat(singles, tracker.running),
            "single_floor": lat(floor_singles, tracker.running),
            "batch_hello_succeeded": lat(hello, tracker.succeeded),
            "batch_wasmlet_running": lat(sleep, tracker.running),
            "batch_floor_running": lat(floor_batch, tracker.running),
        },
    }
    for scope in ("single", "batch"):
        mine, floor_figures = figures[scope]["wasmlet_running"], figures[scope]["floor_running"]
        figures[scope]["ratio_p50"] = ratio(mine["p50_ms"], floor_figures["p50_ms"])
        figures[scope]["ratio_p99"] = ratio(mine["p99_ms"], floor_figures["p99_ms"])
    return figures


async def _wait_floor_node(bench: Bench, floor_node: str) -> None:
    async def ready() -> bool:
        node = await bench.api.request("GET", f"/api/v1/nodes/{floor_node}")
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or []
        )

    await wait_until(ready, 30, "floor node Ready")


async def _batch(
    bench: Bench,
    tracker: PodTracker,
    manifests: list[KubeObject],
    done: Callable[[], bool],
    what: str,
) -> None:
    began = time.perf_counter()
    await create_all(bench.api, manifests)
    if not await tracker.wait_for(done, bench.params.timeout):
        raise TimeoutError(f"{len(manifests)} pods: {what} not within {bench.params.timeout}s")
    bench.say(f"start: {len(manifests)} pods {what} in {time.perf_counter() - began:.2f}s")
