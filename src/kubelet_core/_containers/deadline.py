"""``activeDeadlineSeconds``: a timer on the loop clock, and the budget left for launches.

The deadline counts from the pod's ``status.startTime`` when the pod object
carries one (a restarted agent keeps the original budget), else from when
the runner first armed it.  Re-arming after an update keeps that start and
moves only the end, as kubelet does.  The loop clock (not the wall clock)
drives the timer, so tests can fast-forward it with looptime.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Callable

from kubelet_core._provider.base import KubeObject

REASON = "DeadlineExceeded"
MESSAGE = "Pod was active on the node longer than the specified deadline"


class ActiveDeadline:
    """Calls ``on_exceeded`` once the pod's active deadline passes."""

    def __init__(self, on_exceeded: Callable[[], None]) -> None:
        self._on_exceeded = on_exceeded
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None
        self._began: float | None = None

    def arm(self, pod: KubeObject) -> None:
        """(Re)start the timer for the pod's current ``activeDeadlineSeconds`` (if any)."""
        self.cancel()
        seconds = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        if seconds is None:
            self._at = None
            return
        loop = asyncio.get_running_loop()
        if self._began is None:
            self._began = loop.time() - _elapsed_since_start(pod)
        self._at = self._began + float(seconds)
        self._handle = loop.call_at(self._at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._on_exceeded()

    def left(self) -> float | None:
        """Seconds left (for ``ContainerLaunch.deadline_seconds``), None without a deadline."""
        if self._at is None:
            return None
        return max(0.0, self._at - asyncio.get_running_loop().time())

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _elapsed_since_start(pod: KubeObject) -> float:
    start_time = (pod.get("status") or {}).get("startTime")
    if not start_time:
        return 0.0
    with contextlib.suppress(ValueError):
        began = datetime.datetime.fromisoformat(str(start_time).replace("Z", "+00:00"))
        return max(0.0, (datetime.datetime.now(datetime.UTC) - began).total_seconds())
    return 0.0
