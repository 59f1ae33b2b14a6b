"""Idle cost (issue 7, scenario 4): a quiet node with 0 and with ``--idle-pods`` pods.

For ``--idle-seconds`` the agent is left alone and its CPU time (user+system, from
/proc), its threads' wake-ups (voluntary context switches) and API requests (its
own ``wasmlet_api_requests_total``, dumped on demand, see :mod:`benchmarks.agent`)
are counted.  Each window starts once the agent has gone quiet (no API request
but lease renewals for 2 s; how long that took is reported as ``quiet_after_s``),
so start-up and pod-start traffic -- Events still being sent -- is not counted.
"""

from __future__ import annotations

import asyncio

from benchmarks.context import Bench, Figures
from benchmarks.pods import PodTracker, create_all, sleeper
from benchmarks.processes import AgentProcess, context_switches, wait_quiet


async def window(bench: Bench, agent: AgentProcess, what: str) -> Figures:
    seconds = bench.params.idle_seconds
    bench.say(f"idle: measuring {what} for {seconds:.0f}s")
    before, cpu_before = await agent.api_requests(), agent.sample()
    switches_before = context_switches(agent.pid)
    await asyncio.sleep(seconds)
    switches_after = context_switches(agent.pid)
    cpu_after, after = agent.sample(), await agent.api_requests()
    elapsed = cpu_after.at - cpu_before.at
    calls = sum(after.values()) - sum(before.values())
    return {
        "seconds": elapsed,
        "cpu_percent": 100 * (cpu_after.cpu_seconds - cpu_before.cpu_seconds) / elapsed,
        "api_requests": calls,
        "api_requests_per_min": calls * 60 / elapsed,
        "api_requests_by_kind": {
            k: after[k] - before.get(k, 0.0)
            for k in sorted(after)
            if after[k] != before.get(k, 0.0)
        },
        "thread_wakeups_per_s": (switches_after - switches_before) / elapsed,
        "rss_mib": cpu_after.rss_bytes / 1024 / 1024,
        "threads": cpu_after.threads,
    }


async def run(bench: Bench) -> Figures:
    count = bench.params.idle_pods
    settle = min(5.0, max(1.0, bench.params.idle_seconds / 4))
    label = bench.run_label("idle")
    node = bench.node("idle")
    async with (
        bench.agent(node, max_pods=count + 20) as agent,
        PodTracker(bench.api, label) as tracker,
    ):
        await asyncio.sleep(settle)
        empty_settle = await wait_quiet(agent)
        empty = await window(bench, agent, "an empty node")
        names = [f"{label}-{i}" for i in range(count)]
        await create_all(bench.api, [sleeper(n, node, label) for n in names])
        await tracker.wait_for(
            lambda: all(n in tracker.running for n in names), bench.params.timeout
        )
        await asyncio.sleep(settle)
        bench.say(f"idle: {count} pods Running; waiting for the agent to go quiet")
        loaded_settle = await wait_quiet(agent)
        async with bench.profiled(agent, "idle"):
            loaded = await window(bench, agent, f"{count} idle pods")
    empty["quiet_after_s"] = empty_settle + settle
    loaded["quiet_after_s"] = loaded_settle + settle
    return {"pods": count, "empty": empty, "loaded": loaded}
