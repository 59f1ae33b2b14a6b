"""Exponential backoff with jitter, the one retry pacing used by every loop.

Lease renewal (200 ms doubling to 7 s, like kubelet), watch reconnects
(200 ms to 30 s) and status-write retries all use this, so reconnect storms
after an API server restart are spread out by the jitter rather than
synchronised.
"""

from __future__ import annotations

import random


class Backoff:
    """``next()`` gives the delay before the next attempt; ``reset()`` after a success."""

    def __init__(
        self, initial: float, maximum: float, *, factor: float = 2.0, jitter: float = 0.2
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._current = initial
        self.attempts = 0

    def next(self) -> float:
        delay = self._current
        self._current = min(self.maximum, self._current * self.factor)
        self.attempts += 1
        if self.jitter:
            delay *= 1.0 + random.uniform(-self.jitter, self.jitter)  # not crypto
        return min(delay, self.maximum)

    def reset(self) -> None:
        self._current = self.initial
        self.attempts = 0
