"""CrashLoopBackOff timing with kubelet's real constants, on a fast-forwarded loop clock."""

from __future__ import annotations

import itertools

import pytest

from kubelet_core._containers.backoff import Backoff, BackoffPolicy, go_duration
from kubelet_core._provider.base import ProviderContext
from kubelet_core.containers import LifecycleTimings
from tests.containers.conftest import Recorder, container, ctr, make_pod
from tests.containers.pyruntime import PyRuntimeProvider


def test_sequence_doubles_and_caps() -> None:
    backoff = Backoff(BackoffPolicy())
    assert [backoff.next_delay() for _ in range(8)] == [10, 20, 40, 80, 160, 300, 300, 300]


def test_long_clean_run_resets() -> None:
    backoff = Backoff(BackoffPolicy())
    assert [backoff.next_delay(ran_for=1) for _ in range(3)] == [10, 20, 40]
    assert backoff.next_delay(ran_for=599) == 80
    assert backoff.next_delay(ran_for=600) == 10
    backoff.reset()
    assert backoff.current is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.05, "50ms"), (10, "10s"), (300, "5m0s"), (160, "2m40s")]
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def _starts(recorder: Recorder, pod: str) -> list[float]:
    return [e.at for e in recorder.events if e.pod == pod and e.reason == "Started"]


@pytest.mark.looptime
async def test_crash_loop_delays_with_real_constants(
    context: ProviderContext, recorder: Recorder
) -> None:
    provider = PyRuntimeProvider(timings=LifecycleTimings())
    await provider.start(context)
    try:
        # Runs 0-7 crash at once; run 3 first runs 700 s (> 10 min clean) and so resets.
        pod = make_pod("loop", [ctr("main", "sleep-at", "3", "700", ";", "exit", "1")])
        await provider.create_pod(pod)
        status = await recorder.status(
            "loop", lambda s: container(s, "main")["restartCount"] >= 8, timeout=5000
        )
        assert status["phase"] == "Running"
        starts = _starts(recorder, "loop")
        gaps = [round(b - a) for a, b in itertools.pairwise(starts)]
        # 10, 20, 40 between crashes; then 700 s running + 10 s (reset); then 20, 40, 80, 160
        assert gaps[:7] == [10, 20, 40, 710, 20, 40, 80]
        messages = [
            container(s, "main")["state"]["waiting"]["message"]
            for s in recorder.statuses["loop"]
            if "waiting" in container(s, "main")["state"]
            and container(s, "main")["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        ]
        assert messages[0].startswith("back-off 10s restarting failed container=main pod=loop_")
        assert messages[3].startswith("back-off 10s ")
        assert messages[6].startswith("back-off 1m20s ")
    finally:
        await provider.shutdown()


@pytest.mark.looptime
async def test_crash_loop_caps_at_five_minutes(
    context: ProviderContext, recorder: Recorder
) -> None:
    provider = PyRuntimeProvider(timings=LifecycleTimings())
    await provider.start(context)
    try:
        await provider.create_pod(make_pod("cap", [ctr("main", "exit", "2")]))
        await recorder.status(
            "cap", lambda s: container(s, "main")["restartCount"] >= 8, timeout=5000
        )
        starts = _starts(recorder, "cap")
        gaps = [round(b - a) for a, b in itertools.pairwise(starts)]
        assert gaps[:8] == [10, 20, 40, 80, 160, 300, 300, 300]
    finally:
        await provider.shutdown()


@pytest.mark.looptime
async def test_image_pull_backoff_doubles(context: ProviderContext, recorder: Recorder) -> None:
    provider = PyRuntimeProvider(timings=LifecycleTimings())
    await provider.start(context)
    try:
        await provider.create_pod(make_pod("img", [ctr("main", "exit", "0", image="missing/x")]))
        for _ in range(7):
            await recorder.event("Failed", 'Failed to pull image "missing/x"', timeout=5000)
        pulls = [e.at for e in recorder.events if e.reason == "Pulling"]
        gaps = [round(b - a) for a, b in itertools.pairwise(pulls)]
        assert gaps == [10, 20, 40, 80, 160, 300]
        backoffs = [e.at for e in recorder.events if e.reason == "BackOff"]
        assert round(backoffs[0] - pulls[0]) == 1  # ErrImagePull shows for 1 s first
    finally:
        await provider.shutdown()
