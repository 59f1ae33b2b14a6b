"""Containers that ran inside the agent, after the agent restarts: never run twice.

A runtime whose containers live inside the agent process (``survives_agent_restart``
False, e.g. the waSCC actors) loses them when the agent stops.  The next agent
finds their runs on disk and reports each as kubelet reports a container it
cannot locate (``ContainerStatusUnknown``, exit code 137); the restart policy
decides from there, without a back-off (the agent stopped, not the container).
"""

from __future__ import annotations

from kubelet_core._provider.base import ProviderContext
from tests.containers.conftest import FAST, Recorder, container, ctr, make_pod
from tests.containers.pyruntime import PyRuntimeProvider


async def test_runs_lost_with_the_agent_follow_their_restart_policy(
    context: ProviderContext, recorder: Recorder
) -> None:
    once = make_pod("once", [ctr("main", "print", "hi", ";", "forever")], restart_policy="Never")
    always = make_pod("always", [ctr("main", "restart", ";", "forever")])
    staged = make_pod(
        "staged",
        [ctr("main", "forever")],
        init=[ctr("setup", "print", "ready")],
        restart_policy="Never",
    )
    first = PyRuntimeProvider(timings=FAST)
    await first.start(context)
    for pod in (once, always, staged):
        await first.create_pod(pod)
    for name in ("once", "always", "staged"):
        await recorder.phase(name, "Running")
    await first.shutdown()  # the agent goes; its in-process containers with it

    second = PyRuntimeProvider(timings=FAST)
    await second.start(context)
    events_before = len(recorder.events)
    try:
        for pod in (once, always, staged):
            await second.create_pod(pod)
        # Never: Failed, as the container it cannot find -- and not run a second time.
        status = await recorder.phase("once", "Failed")
        main = container(status, "main")
        assert main["restartCount"] == 0
        terminated = main["state"]["terminated"]
        assert (terminated["reason"], terminated["exitCode"]) == ("ContainerStatusUnknown", 137)
        assert terminated["startedAt"] is None  # unknown, as kubelet leaves it
        # The init container had finished (its app container ran): not run again either.
        status = await recorder.phase("staged", "Failed")
        setup = container(status, "setup", init=True)["state"]["terminated"]
        assert (setup["exitCode"], setup["reason"]) == (0, "Completed")
        # Always: started again at once, one restart counted, no back-off.
        await recorder.status(
            "always",
            lambda s: (
                container(s, "main")["restartCount"] == 1
                and "running" in container(s, "main")["state"]
            ),
        )
        assert [launch.pod["metadata"]["name"] for launch in second.launches] == ["always"]
        after = {e.reason for e in recorder.events[events_before:] if e.pod == "always"}
        assert "BackOff" not in after
    finally:
        await second.shutdown()
