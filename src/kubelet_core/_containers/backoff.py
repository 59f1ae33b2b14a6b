"""Exponential back-off between container restarts and image-pull retries.

Kubelet waits 10 s after the first failure, doubles the delay after each
further one, caps it at 300 s, and forgets the history once a container has
run cleanly for 10 minutes.  The numbers live in :class:`BackoffPolicy` and
are grouped in :class:`LifecycleTimings`, which a provider (or a test) can
replace, so the same code runs in production and in fast tests.  All
durations are measured on the event loop's clock, so tests may also keep the
real numbers and fast-forward time with ``looptime``.
"""

from __future__ import annotations

import dataclasses

from kubelet_core._apiclient.backoff import Backoff as ApiBackoff


@dataclasses.dataclass(frozen=True)
class BackoffPolicy:
    """One back-off sequence: ``initial``, doubling, capped at ``maximum``."""

    initial: float = 10.0
    maximum: float = 300.0
    #: A container that ran at least this long before exiting starts again from ``initial``.
    reset_after: float = 600.0


@dataclasses.dataclass(frozen=True)
class LifecycleTimings:
    """Every delay of the container lifecycle, injectable for tests."""

    crash_loop: BackoffPolicy = BackoffPolicy()
    image_pull: BackoffPolicy = BackoffPolicy()
    #: Retries after CreateContainerConfigError (bad env or volume).
    config_retry: BackoffPolicy = BackoffPolicy()
    #: How long a failed pull shows ErrImagePull before ImagePullBackOff (within the delay).
    image_pull_error_hold: float = 1.0
    #: How long past the grace period to wait for a container the runtime failed to kill.
    stop_slack: float = 5.0
    #: Log ``follow`` checks the file size at most this often (and at least 10x as often
    #: right after new bytes arrived).
    log_poll_max: float = 0.05


class Backoff(ApiBackoff):
    """One container's (or one image pull's) sequence: the shared backoff, without jitter.

    A run of at least ``reset_after`` seconds starts the sequence again, as
    kubelet forgets a container's crash history after ten clean minutes.
    """

    def __init__(self, policy: BackoffPolicy) -> None:
        super().__init__(policy.initial, policy.maximum, jitter=0.0)
        self._reset_after = policy.reset_after

    def next_delay(self, *, ran_for: float | None = None) -> float:
        """The delay before the next attempt; ``ran_for`` long clean runs reset the sequence."""
        if ran_for is not None and ran_for >= self._reset_after:
            self.reset()
        return self.next()


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String()`` for whole seconds: ``10s``, ``5m0s``."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
