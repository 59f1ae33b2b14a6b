"""Where a pod's runner is in its life: one explicit state, with its transitions in one table.

This is the runner's own state, not the pod's Kubernetes ``phase``: the phase
(Pending/Running/Succeeded/Failed) stays derived from the container records
(:func:`kubelet_core._containers.status.pod_phase`), so it can never drift
from what the containers did.  The runner's state answers the questions the
phase cannot -- may a container still (re)start?  are the sidecars being let
go?  is every container down? -- which used to be half a dozen booleans.

::

    PENDING ─▶ MOUNTING ─▶ INITIALIZING ─▶ RUNNING ─▶ COMPLETING ─▶ COMPLETED
       └──────────┴────────────┴──────────────┴───────────┴────────────┴─▶ TERMINATING ─▶ TERMINATED
                                     (any state but TERMINATED) ─▶ DETACHED

``INITIALIZING`` may also go straight to ``COMPLETING`` (an init container
failed for good: the app containers never start).  ``TERMINATING`` is
entered by deletion, eviction, ``activeDeadlineSeconds``, a pod-level error
or agent shutdown; :class:`PodFailure` records why when the pod fails.
``DETACHED`` is an agent shutdown that leaves the containers running.

A stop can arrive while a phase is still finishing (the phase's task is
cancelled a moment later): :meth:`PodStateMachine.advance` then refuses to
move backwards and says so, instead of raising, because that race is normal.
"""

from __future__ import annotations

import dataclasses
import enum


class PodState(enum.Enum):
    PENDING = "Pending"  # created, not started
    MOUNTING = "MountingVolumes"  # setting up the pod's volumes (FailedMount retries)
    INITIALIZING = "Initializing"  # init containers in order, sidecars started in their turn
    RUNNING = "Running"  # app containers under their restart policy
    COMPLETING = "Completing"  # the app containers are done: sidecars are stopped
    COMPLETED = "Completed"  # nothing runs or restarts any more, the pod stays
    TERMINATING = "Terminating"  # no more starts or restarts; running containers get the grace
    TERMINATED = "Terminated"  # every container is down after a stop
    DETACHED = "Detached"  # let go at agent shutdown, its containers left running


_STOPPABLE = frozenset(PodState) - {PodState.TERMINATING, PodState.TERMINATED, PodState.DETACHED}

#: Every allowed move, in one place.
TRANSITIONS: dict[PodState, frozenset[PodState]] = {
    PodState.PENDING: frozenset({PodState.MOUNTING}),
    PodState.MOUNTING: frozenset({PodState.INITIALIZING}),
    PodState.INITIALIZING: frozenset({PodState.RUNNING, PodState.COMPLETING}),
    PodState.RUNNING: frozenset({PodState.COMPLETING}),
    PodState.COMPLETING: frozenset({PodState.COMPLETED}),
    PodState.COMPLETED: frozenset(),
    PodState.TERMINATING: frozenset({PodState.TERMINATED, PodState.DETACHED}),
    PodState.TERMINATED: frozenset(),
    PodState.DETACHED: frozenset({PodState.TERMINATED}),  # deleted while detaching: still stopped
}
for _state in _STOPPABLE:
    TRANSITIONS[_state] |= {PodState.TERMINATING, PodState.DETACHED}


@dataclasses.dataclass(frozen=True)
class PodFailure:
    """Why the whole pod failed (``status.reason`` / ``status.message``)."""

    reason: str
    message: str


class PodStateMachine:
    """The state of one pod's runner and the pod-level failure, if any."""

    def __init__(self) -> None:
        self.state = PodState.PENDING
        self.failure: PodFailure | None = None

    def advance(self, to: PodState) -> bool:
        """Move to ``to`` if the table allows it; False (and no move) otherwise."""
        if to not in TRANSITIONS[self.state]:
            return False
        self.state = to
        return True

    def fail(self, reason: str, message: str) -> None:
        """Record a pod-level failure (the first one wins) and stop starting anything."""
        if self.failure is None:
            self.failure = PodFailure(reason, message)
        self.advance(PodState.TERMINATING)

    @property
    def stopping(self) -> bool:
        """No container may start or restart any more (the pod is being stopped or let go)."""
        return self.state in (PodState.TERMINATING, PodState.TERMINATED, PodState.DETACHED)

    @property
    def sidecars_released(self) -> bool:
        """The app containers are done (or the pod stops): sidecars do not restart."""
        return self.stopping or self.state in (PodState.COMPLETING, PodState.COMPLETED)

    @property
    def all_down(self) -> bool:
        """Every container was stopped: nothing will restart, whatever the policy says."""
        return self.state is PodState.TERMINATED
