"""A few instances of one actor, each serving one call at a time on a worker thread.

A waPC instance is single-threaded, so concurrency comes from several
instances of the same module (actors keep their state in capabilities, not in
their memory, so instances are interchangeable).  A call borrows an idle
instance, runs it on the provider's thread pool (wasmtime releases the GIL
while wasm runs, so the event loop keeps serving), and the *worker thread*
hands the instance back when it is done: a caller that is cancelled half-way
(a client hung up) can then never return an instance that is still running.

A trapped instance is replaced by a fresh one before it is handed back (its
memory may be inconsistent after a trap half-way through an update), and the
trap is reported to ``on_trap`` on the event loop, where the container
decides whether traps keep happening.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable

from wasmlet_wascc.wapc import GuestTrap, WapcError, WapcInstance

InstanceFactory = Callable[[], WapcInstance]


class ActorStopped(WapcError):
    """The actor is stopping or stopped; no new calls are accepted."""


class ActorPool:
    """``size`` instances of one actor behind an idle queue."""

    def __init__(
        self,
        factory: InstanceFactory,
        *,
        size: int,
        call_timeout: float,
        executor: concurrent.futures.Executor,
        on_trap: Callable[[GuestTrap], None] = lambda trap: None,
    ) -> None:
        self._factory = factory
        self.size = max(1, size)
        self.call_timeout = call_timeout
        self._executor = executor
        self.on_trap = on_trap
        self._idle: asyncio.Queue[WapcInstance] = asyncio.Queue()
        self._busy = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # usage, updated by the worker threads after each call
        self._usage_lock = threading.Lock()
        self._cpu_seconds = 0.0
        self._memory: dict[int, int] = {}

    async def start(self) -> None:
        """Create and initialize the instances (raises ``InvalidActorModule``)."""
        self._loop = asyncio.get_running_loop()
        for _ in range(self.size):
            instance = await self._loop.run_in_executor(self._executor, self._factory)
            self._idle.put_nowait(instance)

    async def call(self, operation: str, payload: bytes, timeout: float | None = None) -> bytes:
        """Run one operation; raises ``GuestError``, ``GuestTrap`` or ``ActorStopped``."""
        if self._closed or self._loop is None:
            raise ActorStopped("the actor is not running")
        instance = await self._idle.get()
        if self._closed:
            self._idle.put_nowait(instance)
            raise ActorStopped("the actor is stopping")
        self._busy += 1
        self._drained.clear()
        limit = self.call_timeout if timeout is None else timeout
        return await self._loop.run_in_executor(
            self._executor, self._run, instance, operation, payload, limit
        )

    def _run(self, instance: WapcInstance, operation: str, payload: bytes, timeout: float) -> bytes:
        """On a worker thread: call, replace the instance if it trapped, hand it back."""
        began = time.thread_time()
        try:
            return instance.call(operation, payload, timeout)
        except GuestTrap as trap:
            self._forget(instance)
            try:
                instance = self._factory()
            except WapcError:
                pass  # keep the old one: wasmtime lets a trapped instance be called again
            self._post(self.on_trap, trap)
            raise
        finally:
            self._account(instance, time.thread_time() - began)
            self._post(self._release, instance)

    def _account(self, instance: WapcInstance, cpu_seconds: float) -> None:
        memory = instance.memory_bytes()
        with self._usage_lock:
            self._cpu_seconds += cpu_seconds
            self._memory[id(instance)] = memory

    def _forget(self, instance: WapcInstance) -> None:
        with self._usage_lock:
            self._memory.pop(id(instance), None)

    def usage(self) -> tuple[float, int]:
        """CPU seconds spent in calls so far, and linear memory of the instances (bytes)."""
        with self._usage_lock:
            return self._cpu_seconds, sum(self._memory.values())

    def _post(self, func: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(func, *args)
        except RuntimeError:  # the loop is closed: the node is going away
            pass

    def _release(self, instance: WapcInstance) -> None:
        self._busy -= 1
        self._idle.put_nowait(instance)
        if self._busy == 0:
            self._drained.set()

    async def close(self) -> None:
        """Refuse new calls and wait for the ones running (each ends by its deadline)."""
        self._closed = True
        await self._drained.wait()
