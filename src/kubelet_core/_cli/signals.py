"""SIGTERM/SIGINT handling for the long-running commands.

Handlers are installed before anything starts, so a signal that arrives while
the node is still starting is not lost (the process must never die of a
SIGTERM without stopping its pods' bookkeeping cleanly).  The first signal
sets :attr:`ShutdownSignals.requested`, and the command stops gracefully; a
second one cancels the main task, so an operator is never stuck behind a hung
shutdown.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from types import TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ShutdownSignals:
    """``async with ShutdownSignals() as signals: ... await signals.requested.wait()``."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self._main: asyncio.Task[object] | None = None

    async def __aenter__(self) -> ShutdownSignals:
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
        if self.requested.is_set() and self._main is not None:
            self._main.cancel()  # second signal: stop waiting for a graceful end
        self.requested.set()


async def run_until_signalled(main: Awaitable[None], stop: Callable[[], Awaitable[None]]) -> None:
    """Run ``main``; on the first signal call ``stop`` and wait for ``main`` to end."""
    async with ShutdownSignals() as signals:
        main_task = asyncio.ensure_future(main)
        signalled = asyncio.ensure_future(signals.requested.wait())
        try:
            await asyncio.wait({main_task, signalled}, return_when=asyncio.FIRST_COMPLETED)
            if signals.requested.is_set():
                await stop()
            await main_task
        except asyncio.CancelledError:
            main_task.cancel()
        finally:
            signalled.cancel()
