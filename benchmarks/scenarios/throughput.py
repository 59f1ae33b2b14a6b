"""Throughput (issue 7, scenario 2): many pods created as fast as the API takes them.

``--throughput-pods`` staying-Running pods are POSTed 64 at a time; the figures are
the API's accept rate, pods reaching Running per second (overall, and the best
one-second window), the time until all are Running, and the same for deleting
them all (graceful DELETE, the agent stopping each module then removing the pod).
It runs twice: with the agent at its configured QPS (the headline figures), then
with a fresh agent at ``fast_qps`` (``--throughput-fast-qps``, 1000 by default,
burst twice that) under ``fast_qps`` in the figures, which shows what the agent
itself manages once its API rate limiter is out of the way.
"""

from __future__ import annotations

import math
import os
import time

from benchmarks.context import Bench, Figures
from benchmarks.pods import PodTracker, create_all, delete_all, sleeper
from benchmarks.processes import AGENT_DEFAULT_QPS, AgentProcess, cpu_seconds

STATUS_WRITES = "PUT pods/status"  # a key of AgentProcess.api_requests()


def cpu_by_process(bench: Bench, agent: AgentProcess) -> dict[str, float]:
    """CPU seconds so far of each party to a pod start (what bounds a machine-wide rate)."""
    assert agent.ps is not None
    times = os.times()
    figures = {
        "agent": cpu_seconds(agent.ps),
        "module_hosts": cpu_seconds(agent.ps, descendants=True),  # zygote, forker, hosts
        "driver": times.user + times.system,
    }
    if bench.controlplane is not None and bench.controlplane.ps is not None:
        figures["control_plane"] = cpu_seconds(bench.controlplane.ps)
    return figures


def best_window(times: list[float], window: float = 1.0) -> float:
    """Most events in any ``window`` seconds, per second."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best / window


async def run(bench: Bench) -> Figures:
    node = bench.node("throughput")
    figures = await one_pass(bench, node, None)
    if bench.params.fast_qps > 0:
        fast = await one_pass(bench, f"{node}-fast", bench.params.fast_qps)
        figures["fast_qps"] = {"agent_qps": bench.params.fast_qps, **fast}
    return figures


async def one_pass(bench: Bench, node: str, qps: float | None) -> Figures:
    count = bench.params.throughput_pods
    label = bench.run_label("throughput")
    what = "throughput" if qps is None else f"throughput at {qps:.0f} QPS"
    async with (
        bench.agent(node, max_pods=count + 20, qps=qps) as agent,
        PodTracker(bench.api, label) as tracker,
    ):
        warm = f"{label}-warm"
        await create_all(bench.api, [sleeper(warm, node, label)])
        await tracker.wait_for(lambda: warm in tracker.running, 60)
        await delete_all(bench.api, [warm])  # gone within the grace period, meanwhile

        names = [f"{label}-{i}" for i in range(count)]
        manifests = [sleeper(n, node, label) for n in names]

        def report(what: str, seen: dict[str, float]) -> None:
            bench.say(f"{what}: {sum(1 for n in names if n in seen)}/{count} {what}")

        last = [time.monotonic()]

        def every_2s(what: str, seen: dict[str, float]) -> None:
            if time.monotonic() - last[0] >= 2:
                last[0] = time.monotonic()
                report(what, seen)

        requests_before = await agent.api_requests()
        seconds_before = agent.api_seconds()
        cpu_before = agent.sample()
        parties_before = cpu_by_process(bench, agent)
        async with bench.profiled(agent, "throughput" if qps is None else "throughput-fast"):
            began, accepted = await create_all(bench.api, manifests)
            bench.say(f"{what}: {count} pods accepted in {accepted - began:.2f}s")
            all_running = await tracker.wait_for(
                lambda: all(n in tracker.running for n in names),
                bench.params.timeout,
                lambda: every_2s("Running", tracker.running),
            )
        cpu_running = agent.sample()
        parties = {k: v - parties_before[k] for k, v in cpu_by_process(bench, agent).items()}
        requests_after = await agent.api_requests()
        seconds_after = agent.api_seconds()
        report("Running", tracker.running)

        delete_began, delete_accepted = await delete_all(bench.api, names)
        all_deleted = await tracker.wait_for(
            lambda: all(n in tracker.deleted for n in names),
            bench.params.timeout,
            lambda: every_2s("deleted", tracker.deleted),
        )
        report("deleted", tracker.deleted)
        cpu_deleted = agent.sample()

    run_times = [tracker.running[n] for n in names if n in tracker.running]
    del_times = [tracker.deleted[n] for n in names if n in tracker.deleted]
    to_running = (max(run_times) - began) if run_times else math.nan
    to_deleted = (max(del_times) - delete_began) if del_times else math.nan
    api_calls = sum(requests_after.values()) - sum(requests_before.values())
    status_writes = requests_after.get(STATUS_WRITES, 0.0) - requests_before.get(STATUS_WRITES, 0.0)
    write_seconds = seconds_after.get(STATUS_WRITES, 0.0) - seconds_before.get(STATUS_WRITES, 0.0)
    return {
        "pods": count,
        "agent_qps": qps or bench.params.agent_qps or AGENT_DEFAULT_QPS,
        "create_accept_seconds": accepted - began,
        "create_accept_per_s": count / (accepted - began),
        "all_running": all_running,
        "running": len(run_times),
        "seconds_to_all_running": to_running,
        "running_per_s": len(run_times) / to_running if run_times else 0.0,
        "running_per_s_best_1s": best_window(run_times),
        "agent_cpu_seconds_to_running": cpu_running.cpu_seconds - cpu_before.cpu_seconds,
        "agent_api_requests_to_running": api_calls,
        "agent_api_requests_per_pod": api_calls / count,
        # The target's figure: Events have their own budget, status writes spend the QPS.
        "agent_status_writes_per_pod": status_writes / count,
        # How long the API server took per status write (what bounds the writers).
        "status_write_ms_mean": 1000 * write_seconds / status_writes if status_writes else 0.0,
        "agent_api_requests_by_kind": {
            k: requests_after[k] - requests_before.get(k, 0.0)
            for k in sorted(requests_after)
            if requests_after[k] != requests_before.get(k, 0.0)
        },
        # Every party's CPU per pod to Running: on a machine of ``cpu_count`` cores,
        # cpu_count / the sum is the most pods/s the machine can start at all.
        "cpu_ms_per_pod_by_process": {k: 1000 * v / count for k, v in parties.items()},
        "cpu_ms_per_pod_all": 1000 * sum(parties.values()) / count,
        "machine_bound_pods_per_s": (os.cpu_count() or 1) * count / sum(parties.values())
        if sum(parties.values()) > 0
        else math.inf,
        "delete_accept_seconds": delete_accepted - delete_began,
        "all_deleted": all_deleted,
        "deleted": len(del_times),
        "seconds_to_all_deleted": to_deleted,
        "deleted_per_s": len(del_times) / to_deleted if del_times else 0.0,
        "agent_cpu_seconds_to_deleted": cpu_deleted.cpu_seconds - cpu_running.cpu_seconds,
        "timeline_s": {
            "running": sorted(t - began for t in run_times),
            "deleted": sorted(t - delete_began for t in del_times),
        },
    }
