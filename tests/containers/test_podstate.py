"""The runner's explicit state (podstate) and the pushed status view built from it."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest

from kubelet_core._containers.podstate import TRANSITIONS, PodFailure, PodState, PodStateMachine
from kubelet_core._provider.base import KubeObject
from tests.containers.conftest import FAST, Recorder, ctr, make_context, make_pod
from tests.containers.pyruntime import PyRuntimeProvider

PHASES = [
    PodState.PENDING,
    PodState.MOUNTING,
    PodState.INITIALIZING,
    PodState.RUNNING,
    PodState.COMPLETING,
    PodState.COMPLETED,
]
LIVE = [*PHASES]
STOPPED = [PodState.TERMINATING, PodState.TERMINATED, PodState.DETACHED]


def test_phases_go_forward_one_at_a_time() -> None:
    machine = PodStateMachine()
    for state in PHASES[1:]:
        assert machine.advance(state)
        assert machine.state is state
    for earlier in PHASES:
        assert not machine.advance(earlier)
    assert machine.state is PodState.COMPLETED and not machine.stopping


def test_a_failed_init_container_skips_running() -> None:
    machine = PodStateMachine()
    assert machine.advance(PodState.MOUNTING) and machine.advance(PodState.INITIALIZING)
    assert machine.advance(PodState.COMPLETING)
    assert machine.sidecars_released and not machine.stopping


@pytest.mark.parametrize("state", LIVE)
def test_every_live_state_can_be_stopped_or_detached(state: PodState) -> None:
    assert {PodState.TERMINATING, PodState.DETACHED} <= TRANSITIONS[state]


def test_a_stop_during_a_phase_does_not_go_back() -> None:
    """The phases' task may finish a step after a stop began: the stop wins."""
    machine = PodStateMachine()
    machine.advance(PodState.MOUNTING)
    machine.advance(PodState.INITIALIZING)
    assert machine.advance(PodState.TERMINATING)
    for phase in PHASES:
        assert not machine.advance(phase)
    assert machine.stopping and machine.sidecars_released and not machine.all_down
    assert machine.advance(PodState.TERMINATED)
    assert machine.all_down and TRANSITIONS[PodState.TERMINATED] == frozenset()


def test_the_first_pod_failure_is_kept() -> None:
    machine = PodStateMachine()
    machine.fail("Evicted", "over the sizeLimit")
    machine.fail("DeadlineExceeded", "too long")
    assert machine.failure == PodFailure("Evicted", "over the sizeLimit")
    assert machine.state is PodState.TERMINATING


def test_every_state_has_its_transitions() -> None:
    assert set(TRANSITIONS) == set(PodState)
    for state in STOPPED:
        assert not TRANSITIONS[state] & set(PHASES)


class ExtendingRecorder(Recorder):
    """Extends each status it receives, as the status writer does (hostIP, conditions)."""

    def notify(self, pod: KubeObject, status: KubeObject) -> None:
        super().notify(pod, copy.deepcopy(status))
        status["hostIP"] = "127.0.0.1"
        status["conditions"] = [{"type": "Ready", "status": "False"}]
        for item in status["containerStatuses"]:
            item["state"].clear()


async def test_a_receiver_extending_the_status_changes_nothing_we_push(tmp_path: Path) -> None:
    """Each change is pushed once, as built, whatever the receiver does with the object."""
    recorder = ExtendingRecorder()
    provider = PyRuntimeProvider(timings=FAST)
    await provider.start(make_context(tmp_path, recorder))
    try:
        pod = make_pod("ext", [ctr("main", "exit", "0")], restart_policy="Never")
        await provider.create_pod(pod)
        final = await recorder.phase("ext", "Succeeded")
        assert final["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
        assert "hostIP" not in final
        history = recorder.statuses["ext"]
        assert all(a != b for a, b in itertools.pairwise(history))
        assert [s["phase"] for s in history][-1] == "Succeeded"
    finally:
        await provider.shutdown()
