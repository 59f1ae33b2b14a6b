"""Greedy and careless pods cannot take the node down (audit findings 2, 3 and 4).

Each attack ran inside the agent before: a module opening files in a loop took
the agent to its descriptor limit (the kubelet API answered 500, unrelated pods
failed with ``[Errno 24]``); a pod without ``limits.memory`` grew to 4 GiB
inside the agent; a deleted pod blocked in a WASI sleep kept its thread,
memory and files until the sleep ended.  Now every container is a process of
its own under kernel limits, and the node's own work goes on.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

from kubelet_core.provider.base import LogOptions
from kubelet_core.testing import ClusterHarness
from tests.security.test_agent_restart import wait_gone
from tests.volumes.test_inprocess import import_script, script_pod
from wasmlet_wasi.provider import WasiProvider
from wasmlet_wasi.runtime import WasiContainer


def agent_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def agent_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10


async def first_line(provider: WasiProvider, pod: str) -> bytes:
    """The first line the pod's container writes (followed, as ``kubectl logs -f``)."""
    data = b""
    async for chunk in provider.container_logs("default", pod, pod, LogOptions(follow=True)):
        data += chunk
        if b"\n" in data:
            break
    return data.split(b"\n", 1)[0]


def root_mount(name: str, args: list[str], **spec: object) -> dict[str, object]:
    """A scripted pod with an emptyDir at ``/`` (``open_many`` opens its root)."""
    pod = script_pod(name, args, **spec)
    pod["spec"]["volumes"] = [{"name": "root", "emptyDir": {}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "root", "mountPath": "/"}]
    return pod


async def test_ten_greedy_pods_leave_the_node_serving(tmp_path: Path) -> None:
    provider = WasiProvider()
    async with (
        ClusterHarness.start(tmp_path) as cluster,
        cluster.node(provider, pod_default_memory_limit="64Mi", pod_max_open_files=128),
    ):
        await import_script(provider)
        fds_before, rss_before = agent_fds(), agent_rss()
        greedy = {
            # No limits.memory: the node's default (64Mi here) bounds them.
            **{f"hog-{i}": script_pod(f"hog-{i}", ["alloc", "4000"]) for i in range(4)},
            # Open files until the kernel says no, then keep them.
            **{
                f"fds-{i}": root_mount(f"fds-{i}", ["open_many", "1000000", "sleep", "600000"])
                for i in range(4)
            },
            # Spin a core each.
            **{f"spin-{i}": script_pod(f"spin-{i}", ["spin", "600000"]) for i in range(2)},
        }
        await asyncio.gather(*(cluster.create_pod(pod) for pod in greedy.values()))
        for i in range(4):
            hog = await cluster.wait_for_pod("default", f"hog-{i}", phase="Failed", timeout=60)
            terminated = hog["status"]["containerStatuses"][0]["state"]["terminated"]
            assert terminated["reason"] == "OOMKilled", terminated
        for name in [*(f"fds-{i}" for i in range(4)), "spin-0", "spin-1"]:
            await cluster.wait_for_pod("default", name, phase="Running", timeout=60)
        for i in range(4):  # each hit its own limit: fewer than 128 opened
            line = await asyncio.wait_for(first_line(provider, f"fds-{i}"), 30)
            assert line.startswith(b"opened ") and 0 < int(line.split()[1]) < 128, line
        # The node still serves: a new pod runs, its log comes through the kubelet API.
        await cluster.create_pod(script_pod("innocent", ["echo", "still fine"]))
        await cluster.wait_for_pod("default", "innocent", phase="Succeeded", timeout=30)
        log = await cluster.api.request_bytes("GET", "/api/v1/namespaces/default/pods/innocent/log")
        assert log == b"still fine\n"
        # Nothing of the greedy pods is the agent's: its descriptors and memory are its own.
        assert agent_fds() < fds_before + 40
        assert agent_rss() < rss_before + (64 << 20)


async def test_deleting_a_pod_blocked_in_a_wasi_call_frees_it_at_once(tmp_path: Path) -> None:
    provider = WasiProvider()
    async with ClusterHarness.start(tmp_path) as cluster, cluster.node(provider):
        await import_script(provider)
        await cluster.create_pod(
            script_pod(
                "sleeper", ["alloc", "32", "sleep", "600000"], terminationGracePeriodSeconds=2
            )
        )
        await cluster.wait_for_pod("default", "sleeper", phase="Running", timeout=30)
        (host,) = [c for c in provider.running if isinstance(c, WasiContainer)]
        began = time.perf_counter()
        await cluster.api.request("DELETE", "/api/v1/namespaces/default/pods/sleeper")
        gone = await asyncio.to_thread(wait_gone, host.pid, 2.0)  # the agent shares this loop
        assert gone, "the host must be gone within the grace period"
        print(
            f"host of a pod in a 600 s sleep gone {time.perf_counter() - began:.3f}s after delete"
        )
