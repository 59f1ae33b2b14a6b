"""SIGTERM/SIGINT handling, the one mechanism (the agent, ``wasmlet up``, the control plane).

Handlers are installed before anything starts, so a signal that arrives while
the node is still starting is not lost (the process must never die of a
SIGTERM without marking its node NotReady).  The first signal sets
:attr:`ShutdownSignals.requested` and the owner stops gracefully; a second one
sets :attr:`ShutdownSignals.forced` and cancels the task that entered the
block, so an operator is never stuck behind a hung shutdown.

asyncio can only install handlers in the main thread's loop; an agent run in
another thread must be stopped by its owner (``await agent.stop()``).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ShutdownSignals:
    """``async with ShutdownSignals() as signals: ... await signals.requested.wait()``."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        #: A second signal came: the graceful stop is being cut short.
        self.forced = False
        self._main: asyncio.Task[object] | None = None

    async def __aenter__(self) -> ShutdownSignals:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "signal handling needs the main thread; run with handle_signals=False "
                "and stop the agent yourself"
            )
        loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self._on_signal)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)

    def _on_signal(self) -> None:
        if self.requested.is_set() and self._main is not None and not self.forced:
            self.forced = True
            self._main.cancel()  # second signal: stop waiting for a graceful end
        self.requested.set()
