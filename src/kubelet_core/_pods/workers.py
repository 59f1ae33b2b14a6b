"""One worker per pod: events of a pod are handled in order, pods independently.

The kopf pattern: a mailbox (small queue) and a task per key, created when
the first item arrives and retired as soon as the mailbox is empty, so an
idle node holds no tasks.  A slow provider call for one pod never delays
another pod, and two calls for the same pod never overlap (the provider
contract promises that).

Handlers reconcile to the latest known state, so a run of consecutive
"changed" items collapses into one; a "gone" item is never collapsed, so a
pod deleted and recreated under the same name is torn down before its
namesake starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog

from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

ItemKind = Literal["changed", "gone", "retry"]
Item = tuple[ItemKind, KubeObject | None]
Handler = Callable[[str, ItemKind, KubeObject | None], Awaitable[None]]


class PodWorkers:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._mailboxes: dict[str, list[Item]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def submit(self, key: str, kind: ItemKind, pod: KubeObject | None = None) -> None:
        if self._closed:
            return
        mailbox = self._mailboxes.setdefault(key, [])
        if mailbox and kind != "gone" and mailbox[-1][0] != "gone":
            mailbox[-1] = (kind if mailbox[-1][0] == "retry" else mailbox[-1][0], pod)
        else:
            mailbox.append((kind, pod))
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._work(key), name=f"pod-worker:{key}")

    def submit_later(self, key: str, delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (retries of failed calls)."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self.submit(key, "retry")

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def _work(self, key: str) -> None:
        try:
            while True:
                mailbox = self._mailboxes.get(key)
                if not mailbox:
                    return
                kind, pod = mailbox.pop(0)
                try:
                    await self._handler(key, kind, pod)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bad pod never stops its worker
                    log.exception("pod worker failed", pod=key, item=kind)
        finally:
            self._tasks.pop(key, None)
            if not self._mailboxes.get(key):
                self._mailboxes.pop(key, None)

    async def idle(self, timeout: float) -> bool:
        """Wait until no worker is busy (True) or ``timeout`` passes (False)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            await asyncio.wait(list(self._tasks.values()), timeout=remaining)
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        """Let running handlers finish for ``timeout`` seconds, then cancel them."""
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._mailboxes.clear()
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
