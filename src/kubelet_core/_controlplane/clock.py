"""The time the control plane's controllers go by, so tests can move it.

Node lifecycle, taint-based eviction and pod GC wait tens of seconds by design
(the node monitor grace period, ``tolerationSeconds``, the orphan quarantine).
They read the time and wait for a deadline only through a :class:`Clock`:
:class:`MonotonicClock` in production, :class:`ManualClock` in tests, where
``advance(41)`` fires every deadline it passes at once, so a test of "evicted
after 300 s" neither sleeps nor races.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    async def wait(self, wake: asyncio.Event, deadline: float | None) -> None:
        """Return once ``wake`` is set or the clock reaches ``deadline`` (None: never)."""
        ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def wait(self, wake: asyncio.Event, deadline: float | None) -> None:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward and release every waiter whose deadline has come."""
        self._now += seconds
        while self._waiters and self._waiters[0][0] <= self._now:
            _deadline, _n, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def wait(self, wake: asyncio.Event, deadline: float | None) -> None:
        if deadline is not None and deadline <= self._now:
            return
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(wake.wait())]
        if deadline is not None:
            timer = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (deadline, next(self._order), timer))
            waiters.append(timer)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
