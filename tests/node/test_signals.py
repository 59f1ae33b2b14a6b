"""SIGTERM to a program that embeds an agent with ``kubelet_core.run``.

The node must turn NotReady before anything else happens (a watcher of the
Node learns at once that its pods are going), then the pods are stopped and
their statuses written, then the program exits 0.  A second signal cuts a
hung shutdown short.  Watched through the API, as a user would see it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelet_core._apiclient import KubeApi, node_path
from kubelet_core._controlplane import ControlPlane
from kubelet_core._provider import KubeObject
from tests.node.conftest import condition, pod_manifest, wait_for

ROOT = Path(__file__).resolve().parents[2]
NODE = "embedded"


def ready(node: KubeObject, status: str) -> bool:
    found = condition(node, "Ready")
    return found is not None and found["status"] == status


async def start_program(
    cp: ControlPlane, tmp_path: Path, *extra: str
) -> asyncio.subprocess.Process:
    paths = [str(ROOT), str(ROOT / "src")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.node.embedded_agent",
        str(cp.kubeconfig_path), str(tmp_path / "data"), NODE, *extra,
        cwd=ROOT, env=env, stdout=(tmp_path / "output.log").open("wb"),
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


@pytest.fixture
async def program_killer() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for program in started:
        if program.returncode is None:
            program.kill()
            await program.wait()


async def started_event(api: KubeApi) -> None:
    """Until the agent has started (its node's ``Starting`` Event): Ready comes earlier."""

    def is_it(event: KubeObject) -> bool:
        return event.get("reason") == "Starting" and (
            (event.get("involvedObject") or {}).get("name") == NODE
        )

    listing = await api.get("/api/v1/namespaces/default/events")
    if any(is_it(item) for item in listing["items"]):
        return
    params = {"resourceVersion": listing["metadata"]["resourceVersion"]}
    async for event in api.watch("/api/v1/namespaces/default/events", params=params):
        if is_it(event["object"]):
            return


async def watch_until_not_ready(api: KubeApi, opened: asyncio.Event) -> KubeObject:
    node = await api.get(node_path(NODE))
    params = {
        "fieldSelector": f"metadata.name={NODE}",
        "resourceVersion": node["metadata"]["resourceVersion"],
    }
    async for event in api.watch("/api/v1/nodes", params=params, on_open=opened.set):
        if event["type"] == "MODIFIED" and ready(event["object"], "False"):
            return dict(event["object"])
    raise AssertionError("the node watch ended")


async def test_sigterm_marks_the_node_not_ready_first_then_stops_pods_and_exits(
    cp: ControlPlane, api: KubeApi, tmp_path: Path, program_killer: list[asyncio.subprocess.Process]
) -> None:
    program = await start_program(cp, tmp_path)
    program_killer.append(program)
    await wait_for(api, "/api/v1/nodes", NODE, lambda n: ready(n, "True"), timeout=60)
    await api.create("/api/v1/namespaces/default/pods", pod_manifest("p1", NODE))
    await wait_for(
        api, "/api/v1/namespaces/default/pods", "p1",
        lambda p: p.get("status", {}).get("phase") == "Running", timeout=30,
    )  # fmt: skip

    loop = asyncio.get_running_loop()
    opened = asyncio.Event()
    watching = asyncio.ensure_future(watch_until_not_ready(api, opened))
    await asyncio.wait_for(opened.wait(), 10)
    signalled_at = loop.time()
    program.send_signal(signal.SIGTERM)
    node = await asyncio.wait_for(watching, 30)
    not_ready_after = loop.time() - signalled_at
    print(f"\nSIGTERM -> NotReady seen in the Node watch: {not_ready_after * 1000:.0f} ms")

    assert condition(node, "Ready")["message"] == "wasmlet is shutting down"
    await asyncio.wait_for(program.wait(), 60)
    output = (tmp_path / "output.log").read_bytes()
    assert program.returncode == 0, output.decode(errors="replace")
    assert b"agent stopped" in output
    # The pod was stopped after the node went NotReady: its status write is later.
    pod = await api.get("/api/v1/namespaces/default/pods/p1")
    assert pod["status"]["phase"] == "Succeeded"
    assert int(pod["metadata"]["resourceVersion"]) > int(node["metadata"]["resourceVersion"])
    assert not_ready_after < 10.0  # generous: the machine is shared; typically well under 1 s


async def test_a_second_signal_cuts_a_hung_shutdown_short(
    cp: ControlPlane, api: KubeApi, tmp_path: Path, program_killer: list[asyncio.subprocess.Process]
) -> None:
    program = await start_program(cp, tmp_path, "hang")
    program_killer.append(program)
    await wait_for(api, "/api/v1/nodes", NODE, lambda n: ready(n, "True"), timeout=60)
    await asyncio.wait_for(started_event(api), 60)  # its provider runs (and will hang)
    opened = asyncio.Event()
    watching = asyncio.ensure_future(watch_until_not_ready(api, opened))
    await asyncio.wait_for(opened.wait(), 10)
    program.send_signal(signal.SIGTERM)
    await asyncio.wait_for(watching, 30)  # the graceful stop began; its provider now hangs
    done, _ = await asyncio.wait([asyncio.ensure_future(program.wait())], timeout=0.5)
    assert not done  # still stopping (the grace period is 60 s)
    program.send_signal(signal.SIGTERM)
    await asyncio.wait_for(program.wait(), 15)
    output = (tmp_path / "output.log").read_bytes()
    assert program.returncode == 0, output.decode(errors="replace")
    assert b"second signal" in output
