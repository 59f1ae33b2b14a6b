"""Deletion with a grace period, activeDeadlineSeconds, and agent shutdown."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from kubelet_core._containers.backoff import BackoffPolicy
from kubelet_core._provider.base import ProviderContext
from kubelet_core._provider.errors import NotFound
from kubelet_core.containers import LifecycleTimings
from tests.containers.conftest import Recorder, container, ctr, make_pod, read_log, state_reason
from tests.containers.pyruntime import PyRuntimeProvider


async def test_delete_stops_gracefully_and_cleans_up(
    provider: PyRuntimeProvider, recorder: Recorder, context: ProviderContext
) -> None:
    pod = make_pod(
        "del",
        [ctr("main", "print", "up", ";", "forever")],
        volumes=[{"name": "scratch", "emptyDir": {}}],
    )
    await provider.create_pod(pod)
    await recorder.phase("del", "Running")
    pod_dir = context.data_dir / "pods" / f"default_del_{pod['metadata']['uid']}"
    volume_dir = context.data_dir / "volumes" / f"default_del_{pod['metadata']['uid']}"
    assert (pod_dir / "main" / "0.log").exists() and volume_dir.exists()

    loop = asyncio.get_running_loop()
    began = loop.time()
    await provider.delete_pod(pod, 30)
    assert loop.time() - began < 5  # the container honoured the stop at once (grace: 30 s)
    killing = await recorder.event("Killing", pod="del")
    assert (killing.type, killing.message) == ("Normal", "Stopping container main")
    final = recorder.statuses["del"][-1]
    terminated = container(final, "main")["state"]["terminated"]
    assert terminated["exitCode"] == 143
    assert final["phase"] == "Failed"
    assert not pod_dir.exists() and not volume_dir.exists()
    assert await provider.list_pods() == []
    assert await provider.get_pod_status(pod) is None
    with pytest.raises(NotFound):
        await read_log(provider, "del", "main")
    await provider.delete_pod(pod, 30)  # idempotent


async def test_container_ignoring_stop_is_killed_after_grace(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("stubborn", [ctr("main", "ignore-stop", ";", "forever")])
    await provider.create_pod(pod)
    await recorder.phase("stubborn", "Running")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await provider.delete_pod(pod, 0.3)
    elapsed = loop.time() - began
    assert 0.3 <= elapsed < 3
    final = recorder.statuses["stubborn"][-1]
    terminated = container(final, "main")["state"]["terminated"]
    assert terminated["exitCode"] == 137
    assert "message" not in terminated  # killed by the runtime, not given up on by the lifecycle


async def test_delete_while_pulling_is_prompt(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    provider.pull_gate = asyncio.Event()  # pulls never finish
    pod = make_pod("pulling", [ctr("main", "exit", "0")])
    await provider.create_pod(pod)
    await recorder.event("Pulling", pod="pulling")
    async with asyncio.timeout(1):
        await provider.delete_pod(pod, 30)
    assert provider.launches == []
    assert "Killing" not in recorder.reasons("pulling")
    assert await provider.list_pods() == []


async def test_delete_during_crash_loop_backoff_is_prompt(
    context: ProviderContext, recorder: Recorder
) -> None:
    provider = PyRuntimeProvider(timings=LifecycleTimings(crash_loop=BackoffPolicy(initial=3600)))
    await provider.start(context)
    pod = make_pod("backoff", [ctr("main", "exit", "1")])
    await provider.create_pod(pod)
    await recorder.status("backoff", lambda s: state_reason(s, "main") == "CrashLoopBackOff")
    async with asyncio.timeout(1):
        await provider.delete_pod(pod, 30)
    assert len(provider.launches) == 1
    await provider.shutdown()


async def test_concurrent_deletes_share_one_stop(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("twice", [ctr("main", "forever"), ctr("side", "forever")])
    await provider.create_pod(pod)
    await recorder.status("twice", lambda s: all(c["ready"] for c in s["containerStatuses"]))
    await asyncio.gather(provider.delete_pod(pod, 5), provider.delete_pod(pod, 5))
    assert sorted(e.message for e in recorder.events if e.reason == "Killing") == [
        "Stopping container main",
        "Stopping container side",
    ]


@pytest.mark.looptime
async def test_active_deadline_fails_the_pod(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "deadline",
        [ctr("main", "deadline", ";", "forever")],
        activeDeadlineSeconds=60,
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    await provider.create_pod(pod)
    await recorder.phase("deadline", "Running")
    status = await recorder.status(
        "deadline", lambda s: s.get("reason") == "DeadlineExceeded", timeout=120
    )
    assert round(loop.time() - began) == 60
    assert status["phase"] == "Failed"
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    final = await recorder.status("deadline", lambda s: state_reason(s, "main") == "Error")
    assert container(final, "main")["state"]["terminated"]["exitCode"] == 143
    assert (final["phase"], final["reason"]) == ("Failed", "DeadlineExceeded")
    assert (await recorder.event("DeadlineExceeded")).type == "Warning"
    await recorder.event("Killing", "Stopping container main")
    assert provider.launches[0].deadline_seconds == 60
    assert await read_log(provider, "deadline", "main") == b"deadline=60.0\n"
    # Nothing restarts a pod that ran out of time, although restartPolicy is Always.
    assert len(provider.launches) == 1
    assert (await provider.get_pod_status(pod) or {})["phase"] == "Failed"


@pytest.mark.looptime
async def test_deadline_budget_shrinks_for_later_containers(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "budget",
        [ctr("main", "exit", "0")],
        init=[ctr("wait", "sleep", "25")],
        activeDeadlineSeconds=100,
        restartPolicy="Never",
    )
    await provider.create_pod(pod)
    await recorder.phase("budget", "Succeeded", timeout=200)
    assert [round(launch.deadline_seconds or 0) for launch in provider.launches] == [100, 75]


async def test_shutdown_stops_running_containers(
    context: ProviderContext, recorder: Recorder
) -> None:
    provider = PyRuntimeProvider()
    await provider.start(context)
    pod = make_pod("bye", [ctr("main", "forever")])
    await provider.create_pod(pod)
    await recorder.phase("bye", "Running")
    reported = len(recorder.statuses["bye"]), len(recorder.events)
    async with asyncio.timeout(2):
        await provider.shutdown()
    assert provider.containers[0].stopped
    # The agent stops, not the pod: nothing tells the API the pod ended.
    assert (len(recorder.statuses["bye"]), len(recorder.events)) == reported
    assert await provider.list_pods() == []


@pytest.mark.looptime
async def test_deadline_update_and_start_time(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=50)
    started = make_pod("started", [ctr("main", "forever")], activeDeadlineSeconds=60)
    started["status"] = {"startTime": long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")}
    await provider.create_pod(started)
    await recorder.status("started", lambda s: s.get("reason") == "DeadlineExceeded", timeout=60)
    assert 9 <= loop.time() - began <= 11  # 60 s counted from startTime, 50 s ago

    began = loop.time()
    pod = make_pod("moved", [ctr("main", "forever")], activeDeadlineSeconds=1000)
    await provider.create_pod(pod)
    await recorder.phase("moved", "Running")
    await asyncio.sleep(10)  # loop time: let the pod be active for a while
    await provider.update_pod({**pod, "spec": {**pod["spec"], "activeDeadlineSeconds": 30}})
    await recorder.status("moved", lambda s: s.get("reason") == "DeadlineExceeded", timeout=60)
    assert round(loop.time() - began) == 30


async def test_delete_while_a_start_is_under_way(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("starting", [ctr("main", "slow-start", ";", "forever")])
    await provider.create_pod(pod)
    await recorder.event("Created", pod="starting")
    deletion = asyncio.create_task(provider.delete_pod(pod, 5))
    await asyncio.sleep(0)  # let the deletion cancel the runner first
    provider.gate("start").set()
    async with asyncio.timeout(2):
        await deletion
    # The container that came up after all was not lost: it was stopped.
    assert provider.containers[0].stopped
    await recorder.event("Killing", "Stopping container main")
    assert (
        container(recorder.statuses["starting"][-1], "main")["state"]["terminated"]["exitCode"]
        == 143
    )


async def test_runtime_stop_and_wait_errors(context: ProviderContext, recorder: Recorder) -> None:
    provider = PyRuntimeProvider(timings=LifecycleTimings(stop_slack=0.2))
    await provider.start(context)
    lost = make_pod("lost", [ctr("main", "broken-wait")], restart_policy="Never")
    await provider.create_pod(lost)
    status = await recorder.phase("lost", "Failed")
    terminated = container(status, "main")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (255, "Error")
    assert "lost track of the container" in terminated["message"]

    broken = make_pod("broken", [ctr("main", "broken-stop", ";", "forever")])
    await provider.create_pod(broken)
    await recorder.phase("broken", "Running")
    async with asyncio.timeout(2):
        await provider.delete_pod(broken, 0.1)
    terminated = container(recorder.statuses["broken"][-1], "main")["state"]["terminated"]
    assert terminated["exitCode"] == 137
    assert terminated["message"] == "the container did not stop within 0.1s grace period"
    await provider.shutdown()
    stubborn = provider.containers[-1]  # the runtime really failed to stop it: clean up here
    stubborn.broken_stop = False
    await stubborn.stop(0)
