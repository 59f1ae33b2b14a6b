"""Make a callback safe to call from any thread, as providers may run pods in threads.

The status notifier and the event recorder are handed to providers, some of
which run wasm in worker threads.  Both must be callable from there without
blocking and without touching asyncio objects off-loop: a call from another
thread is forwarded with ``call_soon_threadsafe``; a call on the loop runs at
once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class LoopBound:
    """Remembers the loop it was created on; ``call`` runs a function there."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        if threading.get_ident() == self._thread:
            function(*args)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function, *args)
