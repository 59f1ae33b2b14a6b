"""Run a coroutine until SIGTERM/SIGINT, then run its graceful stop.

The first signal starts a graceful stop; a second one cancels everything, so
an operator is never stuck behind a hung shutdown.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(
    main: Awaitable[None], stop: Callable[[], Awaitable[None]]
) -> None:
    loop = asyncio.get_running_loop()
    main_task = asyncio.ensure_future(main)
    stopping: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        if stopping:
            main_task.cancel()
            for task in stopping:
                task.cancel()
            return
        stopping.append(asyncio.ensure_future(stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        while not main_task.done():
            waiters: list[asyncio.Future[None]] = [main_task, *stopping]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if stopping and stopping[0].done():
                main_task.cancel()
                break
        try:
            await main_task
        except asyncio.CancelledError:
            pass
        if stopping:
            try:
                await stopping[0]
            except asyncio.CancelledError:
                pass
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
