"""Density (issue 7, scenario 3): how many long-running WASI pods one node holds.

Staying-Running pods are added ``--density-step`` at a time, up to
``--density-pods``; after each step (all Running) the agent's RSS, threads and
file descriptors are sampled.  The per-pod costs are the growth from the
baseline (agent Ready, one warm-up pod Running, not counted) divided by the pods
running.  The first step that does not get all its pods Running within the
timeout ends the climb, and the count reached is reported.

Each WASI container is a module host process forked from the provider's
zygote: its cost is what is its own (``Private_Clean + Private_Dirty`` of
``smaps_rollup``, pages it does not share copy-on-write with the zygote or
anyone), reported per pod, and the zygote once.  A pod's whole cost is the
agent's growth per pod plus its host's unique memory.
"""

from __future__ import annotations

import time

from benchmarks import pods as bench_pods
from benchmarks.context import Bench, Figures
from benchmarks.nodehealth import NodeHealth
from benchmarks.pods import PodTracker, create_all, sleeper

MIB = 1024 * 1024


async def run(bench: Bench) -> Figures:
    target = bench.params.density_pods
    step = max(1, min(bench.params.density_step, target))
    label = bench.run_label("density")
    node = bench.node("density")
    curve: list[dict[str, float]] = []
    async with (
        bench.agent(node, max_pods=target + 20) as agent,
        PodTracker(bench.api, label) as tracker,
        NodeHealth(bench.api, node) as health,
    ):
        warm = f"{label}-warm"
        await create_all(bench.api, [sleeper(warm, node, label)])
        await tracker.wait_for(lambda: warm in tracker.running, 60)
        base = agent.sample()
        curve.append(
            {
                "pods": 0,
                "rss_mib": base.rss_bytes / MIB,
                "threads": base.threads,
                "fds": base.fds,
                "seconds": 0.0,
            }
        )
        began = time.perf_counter()
        names: list[str] = []
        complete = True
        while len(names) < target:
            batch = [f"{label}-{i}" for i in range(len(names), min(target, len(names) + step))]
            names += batch
            await create_all(bench.api, [sleeper(n, node, label) for n in batch])
            complete = await tracker.wait_for(
                tracker.all_seen(tracker.running, names), bench.params.timeout
            )
            sample = agent.sample()
            reached = sum(1 for n in names if n in tracker.running)
            kubelet_api_s = await health.kubelet_api_seconds(bench_pods.NAMESPACE, names[-1])
            curve.append(
                {
                    "pods": reached,
                    "rss_mib": sample.rss_bytes / MIB,
                    "threads": sample.threads,
                    "fds": sample.fds,
                    "hosts": sample.hosts,
                    "hosts_unique_mib": sample.hosts_unique_bytes / MIB,
                    "seconds": time.perf_counter() - began,
                    "kubelet_api_ms": kubelet_api_s * 1000,
                    "lease_longest_gap_s": health.longest_gap(),
                }
            )
            bench.say(
                f"density: {reached} Running, agent RSS {sample.rss_bytes / MIB:.0f} MiB, "
                f"{sample.threads} threads, {sample.fds} fds; {sample.hosts} module hosts, "
                f"{sample.hosts_unique_bytes / MIB:.0f} MiB of their own; kubelet API "
                f"{kubelet_api_s * 1000:.0f} ms, longest lease gap {health.longest_gap():.1f} s"
            )
            if not complete:
                break
        top = agent.sample()
        failed = sum(1 for n in names if n in tracker.failed)
        node_health = health.figures()
        node_health["kubelet_api_ms_max"] = max(
            (point.get("kubelet_api_ms", 0.0) for point in curve), default=0.0
        )
    reached = int(curve[-1]["pods"])

    def per(a: float, b: float) -> float:
        return (a - b) / reached if reached else 0.0

    return {
        "target": target,
        "reached": reached,
        "complete": complete,
        "failed": failed,
        "baseline_rss_mib": base.rss_bytes / MIB,
        "rss_mib": top.rss_bytes / MIB,
        "rss_per_pod_kib": per(top.rss_bytes, base.rss_bytes) / 1024,
        "baseline_threads": base.threads,
        "threads": top.threads,
        "threads_per_pod": per(top.threads, base.threads),
        "baseline_fds": base.fds,
        "fds": top.fds,
        "fds_per_pod": per(top.fds, base.fds),
        "hosts": top.hosts,
        "host_unique_kib_per_pod": (top.hosts_unique_bytes / top.hosts / 1024)
        if top.hosts
        else 0.0,
        "zygote_rss_mib": top.zygote_rss_bytes / MIB,
        "unique_kib_per_pod": per(top.rss_bytes, base.rss_bytes) / 1024
        + ((top.hosts_unique_bytes / top.hosts / 1024) if top.hosts else 0.0),
        **node_health,
        "curve": curve,
    }
