"""Every controller has one shape; a supervisor runs them as one unit.

The shape (Virtual Kubelet's ``Run(ctx)`` / ``Ready()`` / ``Err()``, in asyncio):

* ``await controller.run(stopping)`` runs until the ``stopping`` event is set,
  then winds down (flushes what it holds) and returns.  It raises when it
  cannot go on; returning before ``stopping`` is set is a failure too.
* ``controller.ready`` is set once it does its job (a watch is open, a port is
  bound), so a caller can wait for "started" without knowing what that means.

:class:`Supervisor` is a TaskGroup for controllers that a long-lived owner
needs: controllers are started one by one (an agent starts them in dependency
order), stopped in chosen groups with a deadline (the agent stops the pod
watch before the status writer flushes), and the first failure is kept and
signalled through :attr:`Supervisor.failed`, so the owner stops instead of
running on with a dead part.  Two adapters fit the parts that existed before
this shape: :class:`LoopController` for a ``loop(stopping)`` coroutine and
:class:`ServiceController` for a ``start()``/``stop()`` pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Controller(Protocol):
    """A long-running part of an agent: ``run(stopping)``, ``ready``, errors raise."""

    @property
    def name(self) -> str: ...

    @property
    def ready(self) -> asyncio.Event: ...

    async def run(self, stopping: asyncio.Event) -> None: ...


class ControllerFailed(RuntimeError):
    """A controller raised (the cause) or returned while it was meant to run."""

    def __init__(self, owner: str, controller: str, why: str) -> None:
        super().__init__(f"controller {controller!r} of {owner} {why}")
        self.owner = owner
        self.controller = controller


class LoopController:
    """A ``loop(stopping)`` coroutine as a controller; ready as soon as it runs."""

    def __init__(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self.name = name
        self.ready = asyncio.Event()
        self._loop = loop

    async def run(self, stopping: asyncio.Event) -> None:
        self.ready.set()
        await self._loop(stopping)


class ServiceController:
    """A ``start()`` / ``stop()`` pair as a controller: ready once started."""

    def __init__(
        self,
        name: str,
        *,
        start: Callable[[], Awaitable[None] | None],
        stop: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.ready = asyncio.Event()
        self._start = start
        self._stop = stop

    async def run(self, stopping: asyncio.Event) -> None:
        started = self._start()
        if started is not None:
            await started
        self.ready.set()
        try:
            await stopping.wait()
        finally:
            await self._stop()


class Supervisor:
    """Runs controllers for ``owner``; the first failure sets :attr:`failed`."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        #: Set when a controller failed; :attr:`error` says which and why.
        self.failed = asyncio.Event()
        self.error: ControllerFailed | None = None
        self._running: dict[str, tuple[Controller, asyncio.Event, asyncio.Task[None]]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._running

    def start(self, controller: Controller) -> None:
        if controller.name in self._running:
            raise ValueError(f"{self.owner} already runs a controller {controller.name!r}")
        stopping = asyncio.Event()
        task = asyncio.create_task(
            self._guard(controller, stopping), name=f"{controller.name}:{self.owner}"
        )
        self._running[controller.name] = (controller, stopping, task)

    async def wait_ready(self, name: str) -> None:
        """Return once ``name`` is ready; raise the supervisor's error if anything failed."""
        controller, _, task = self._running[name]
        ready = asyncio.ensure_future(controller.ready.wait())
        failed = asyncio.ensure_future(self.failed.wait())
        try:
            await asyncio.wait({ready, failed, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            failed.cancel()
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    async def stop(self, names: Sequence[str] | None = None, *, timeout: float) -> None:
        """Stop ``names`` (default: all, newest first) together; cancel what overruns."""
        chosen = list(reversed(self._running)) if names is None else list(names)
        entries = [self._running.pop(name) for name in chosen if name in self._running]
        for _, stopping, _ in entries:
            stopping.set()
        tasks = [task for _, _, task in entries]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=max(timeout, 0.01))
        for task in late:
            log.warning("controller did not stop in time", owner=self.owner, controller=task)
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _guard(self, controller: Controller, stopping: asyncio.Event) -> None:
        try:
            await controller.run(stopping)
        except asyncio.CancelledError:
            if not stopping.is_set():
                raise
            return
        except Exception as error:
            self._fail(ControllerFailed(self.owner, controller.name, f"failed: {error!r}"), error)
            return
        if not stopping.is_set():
            self._fail(ControllerFailed(self.owner, controller.name, "stopped by itself"), None)

    def _fail(self, failure: ControllerFailed, cause: BaseException | None) -> None:
        failure.__cause__ = cause
        log.error(str(failure), exc_info=cause)
        if self.error is None:
            self.error = failure
            self.failed.set()
