"""The time the control plane's controllers go by, so tests can move it.

Node lifecycle, taint-based eviction and pod GC wait tens of seconds by design
(the node monitor grace period, ``tolerationSeconds``, the orphan quarantine);
the workload controllers wait for CronJob schedules, Job deadlines and
Deployment progress deadlines.  One clock for all of them.
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
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kubelet_core._apiclient.timefmt import rfc3339

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch, as the controllers see them (CronJob schedules,
        status timestamps); moved by :meth:`advance` together with :meth:`now`."""
        ...

    def stamp(self) -> str:
        """:meth:`time` as the RFC 3339 seconds Kubernetes writes in status fields."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time forward; every waiter whose deadline passes wakes."""
        ...

    def on_advance(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the clock is moved (controllers that keep their
        own deadlines look again)."""
        ...

    async def wait(self, wake: asyncio.Event, deadline: float | None) -> None:
        """Return once ``wake`` is set or the clock reaches ``deadline`` (None: never)."""
        ...


class MonotonicClock:
    """Real time, which :meth:`advance` may still move forward (``cp.clock.advance``)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._moved: list[Callable[[], None]] = []
        self._advanced = asyncio.Event()

    def now(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset

    def stamp(self) -> str:
        return rfc3339(self.time())

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self._advanced.set()
        self._advanced = asyncio.Event()
        for callback in list(self._moved):
            callback()

    def on_advance(self, callback: Callable[[], None]) -> None:
        self._moved.append(callback)

    async def wait(self, wake: asyncio.Event, deadline: float | None) -> None:
        while not wake.is_set():
            timeout = None if deadline is None else deadline - self.now()
            if timeout is not None and timeout <= 0:
                return
            moved = self._advanced
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(moved.wait())]
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if not moved.is_set():
                return  # woken, or the deadline came


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self._start = self._now = start
        self._wall = time.time()
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._moved: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall + (self._now - self._start)

    def stamp(self) -> str:
        return rfc3339(self.time())

    def on_advance(self, callback: Callable[[], None]) -> None:
        self._moved.append(callback)

    def advance(self, seconds: float) -> None:
        """Move time forward and release every waiter whose deadline has come."""
        self._now += seconds
        while self._waiters and self._waiters[0][0] <= self._now:
            _deadline, _n, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
        for callback in list(self._moved):
            callback()

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


class TimedLoop:
    """One controller's loop: work when woken or when one of its deadlines comes.

    ``schedule(key, at)`` / ``cancel(key)`` keep per-key deadlines on the
    clock; ``poke()`` asks for a pass now.  Each pass calls ``step(due)`` with
    the keys whose deadline has come.  :meth:`settled` returns once the loop is
    waiting with nothing due and no wake-up pending, which is how a test knows
    a controller has reacted to ``ManualClock.advance`` without sleeping.
    """

    def __init__(self, clock: Clock, name: str, step: Callable[[list[Any]], Awaitable[None]]):
        self.clock = clock
        self.name = name
        self._step = step
        self._deadlines: dict[Any, float] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._waiting = False
        self._task: asyncio.Task[None] | None = None

    def schedule(self, key: Any, at: float) -> None:
        self._deadlines[key] = at
        self._wake.set()

    def cancel(self, key: Any) -> None:
        self._deadlines.pop(key, None)

    def scheduled(self, key: Any) -> float | None:
        return self._deadlines.get(key)

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def is_settled(self) -> bool:
        now = self.clock.now()
        return (
            self._waiting
            and not self._wake.is_set()
            and not any(at <= now for at in self._deadlines.values())
        )

    async def settled(self) -> None:
        while not self.is_settled():
            self._idle.clear()
            await self._idle.wait()

    async def _run(self) -> None:
        while True:
            upcoming = min(self._deadlines.values(), default=None)
            self._waiting = True
            self._idle.set()
            try:
                await self.clock.wait(self._wake, upcoming)
            finally:
                self._waiting = False
            self._wake.clear()
            now = self.clock.now()
            due = [key for key, at in self._deadlines.items() if at <= now]
            for key in due:
                del self._deadlines[key]
            try:
                await self._step(due)
            except Exception:
                log.exception("%s: a pass failed", self.name)
