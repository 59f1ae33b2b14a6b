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

from kubelet_core._provider.base import LogOptions
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
        cluster.node(provider, pods={"default_memory_limit": "64Mi", "max_open_files": 128}),
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


async def wait_deleted(cluster: ClusterHarness, name: str, timeout: float = 30) -> None:
    """Until pod ``name`` is gone from the API (the agent deletes it after cleaning up)."""
    pods, selector = "/api/v1/namespaces/default/pods", {"fieldSelector": f"metadata.name={name}"}
    async with asyncio.timeout(timeout):
        listing = await cluster.api.request("GET", pods, params=selector)
        if not listing["items"]:
            return
        params = {**selector, "resourceVersion": listing["metadata"]["resourceVersion"]}
        async for event in cluster.api.watch(pods, params=params):
            if event.get("type") == "DELETED":
                return


async def test_a_tree_nested_deeper_than_python_recurses_cannot_jam_the_node(
    tmp_path: Path,
) -> None:
    """Review finding: 1,500 nested directories in an emptyDir stopped sizeLimit checks,
    left the volume behind after deletion and kept the next agent from starting."""
    provider = WasiProvider()
    async with ClusterHarness.start(tmp_path) as cluster:
        async with cluster.node(provider):
            await import_script(provider)
            pod = script_pod("deep", ["nest", "1500", "/v", "sleep", "600000"])
            pod["spec"]["volumes"] = [{"name": "v", "emptyDir": {"sizeLimit": "1Mi"}}]
            pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]
            await cluster.create_pod(pod)
            evicted = await cluster.wait_for_pod("default", "deep", phase="Failed", timeout=60)
            assert evicted["status"]["reason"] == "Evicted"
            assert "cannot be measured" in evicted["status"]["message"]
            uid = evicted["metadata"]["uid"]
            volume = tmp_path / "nodes" / "test-node" / "volumes" / f"default_deep_{uid}"
            await cluster.api.request("DELETE", "/api/v1/namespaces/default/pods/deep")
            await wait_deleted(cluster, "deep")  # a Failed pod goes at once; then the cleanup
            assert await asyncio.to_thread(vanishes, volume), "the volume was not removed"
            # A tree left by a crashed agent does not stop the next one from starting.
            leftover = tmp_path / "nodes" / "test-node" / "volumes" / "default_ghost_0000-dead"
            await asyncio.to_thread(nest_dirs, leftover / "empty-dir" / "v", 1500)
        async with cluster.node(WasiProvider()):
            assert not leftover.exists()


def vanishes(path: Path, timeout: float = 20) -> bool:
    """Whether ``path`` is gone within ``timeout`` (the agent removes it after the API
    forgets the pod, and says so nowhere: bounded polling, in a thread)."""
    deadline = time.monotonic() + timeout
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def nest_dirs(path: Path, depth: int) -> None:
    path.mkdir(parents=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


async def test_config_and_secret_volumes_are_read_only_even_for_root(tmp_path: Path) -> None:
    """Review finding: a runAsUser 0 container could rewrite its configMap volume."""
    provider = WasiProvider()
    async with ClusterHarness.start(tmp_path) as cluster, cluster.node(provider):
        await import_script(provider)
        await cluster.api.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body={"metadata": {"name": "cfg"}, "data": {"key": "original"}},
        )
        pod = script_pod(
            "tamper", ["write", "/cfg/key", "tampered"], securityContext={"runAsUser": 0}
        )
        pod["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "cfg"}}]
        pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
        await cluster.create_pod(pod)
        done = await cluster.wait_for_pod("default", "tamper", phase="Failed", timeout=30)
        assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
        (volume,) = (tmp_path / "nodes" / "test-node" / "volumes").glob("default_tamper_*")
        assert (volume / "configmap" / "cfg" / "key").read_text() == "original"
