"""Exponential backoff, the one retry pacing every loop of the node uses.

One implementation, two jitter policies, and each caller says which:

* API retries (lease renewal 200 ms doubling to 7 s like kubelet, watch
  reconnects 200 ms to 30 s, status-write retries) use :data:`API_JITTER`, so
  the reconnects of many nodes after an API server restart spread out
  instead of arriving together;
* the container lifecycle (CrashLoopBackOff, image pulls, config retries)
  passes ``jitter=0``: kubelet's delays there are exact (10 s, 20 s, ... 300 s)
  and users read them back in ``Back-off 40s restarting failed container``.

The delay is ``initial * factor**n`` capped at ``maximum``; jitter scales it
by a uniform factor in ``[1 - jitter, 1 + jitter]`` and the cap still holds.
"""

from __future__ import annotations

import random

#: The jitter of API retries (and the default): delays vary by up to 20 % either way.
API_JITTER = 0.2


class Backoff:
    """``next()`` gives the delay before the next attempt; ``reset()`` after a success."""

    def __init__(
        self, initial: float, maximum: float, *, jitter: float = API_JITTER, factor: float = 2.0
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._next = initial
        self._current: float | None = None
        self.attempts = 0

    @property
    def current(self) -> float | None:
        """The last delay handed out (before jitter), None after a reset."""
        return self._current

    def next(self) -> float:
        delay = self._current = self._next
        self._next = min(self.maximum, self._next * self.factor)
        self.attempts += 1
        if self.jitter:
            delay *= 1.0 + random.uniform(-self.jitter, self.jitter)  # not crypto
        return min(delay, self.maximum)

    def reset(self) -> None:
        self._next = self.initial
        self._current = None
        self.attempts = 0
