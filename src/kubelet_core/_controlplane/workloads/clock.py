"""The workload controllers' clock: wall time plus an offset tests can move.

CronJob schedules, Job deadlines and backoff, TTL-after-finished and Deployment progress
deadlines all read this clock, and every controller waiting for a moment on it is woken
when it moves, so a test advances an hour with ``cp.clock.advance(3600)`` instead of
sleeping (kube-controller-manager's tests do the same with a fake clock).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0
        self._moved: list[Callable[[], None]] = []

    def time(self) -> float:
        """Seconds since the epoch, as the controllers see them."""
        return time.time() + self.offset

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)

    def stamp(self) -> str:
        """``now()`` as the RFC 3339 seconds Kubernetes writes in status fields."""
        return format_time(self.now())

    def advance(self, seconds: float) -> None:
        """Move time forward and wake everything waiting on it."""
        self.offset += seconds
        for callback in list(self._moved):
            callback()

    def on_advance(self, callback: Callable[[], None]) -> None:
        self._moved.append(callback)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
