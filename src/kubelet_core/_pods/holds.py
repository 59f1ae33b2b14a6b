"""First statuses held back in case Running follows: their timers, in arrival order.

Why a queue.  A pod's first Pending status (ContainerCreating) is held for
``hold`` seconds so that a pod that starts quickly costs one status write, not
a ContainerCreating write that its Running write overtakes.  In a burst of
starts the node works through its pods roughly in the order they came, and a
pod waiting behind others has not begun to start: measuring its hold from its
arrival would let every hold of the burst run out together, and the node would
spend a second write on each pod (at kubelet's 50 QPS that halves the rate at
which a burst reaches Running).  So a pod's hold only begins once every pod
that arrived before it has left the queue (it ran, failed, said why it waits,
or its own hold ran out); the head of the queue always leaves within ``hold``,
so the queue moves.  No first status waits longer than ``longest`` in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Hold:
    began: float  # loop time the pod's first status arrived
    timer: asyncio.TimerHandle


class FirstStatusHolds:
    """The held keys, oldest first; ``release(key)`` is called when a hold is over."""

    def __init__(self, hold: float, longest: float, release: Callable[[str], None]) -> None:
        self.hold = hold
        self.longest = max(hold, longest)
        self._release = release
        self._entries: dict[str, _Hold] = {}  # insertion order: arrival order

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def snapshot(self) -> list[str]:
        """The held keys, oldest first (a copy: releasing them changes the queue)."""
        return list(self._entries)

    def start(self, key: str) -> None:
        """Hold ``key``'s first status (no-op if it is held already)."""
        if key in self._entries:
            return
        loop = asyncio.get_running_loop()
        # Only the oldest pod's own hold runs; the others wait for their turn or the
        # longest hold, so a queue of a thousand pods keeps one timer busy, not a thousand.
        delay = self.hold if not self._entries else self.longest
        self._entries[key] = _Hold(loop.time(), loop.call_later(delay, self._release, key))

    def drop(self, key: str) -> bool:
        """Stop holding ``key`` without releasing it; False if it was not held."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        was_head = next(iter(self._entries)) == key
        del self._entries[key]
        entry.timer.cancel()
        if was_head and self._entries:  # the next pod's own hold begins now
            head, held = next(iter(self._entries.items()))
            loop = asyncio.get_running_loop()
            left = self.longest - (loop.time() - held.began)
            held.timer.cancel()
            held.timer = loop.call_later(max(0.0, min(self.hold, left)), self._release, head)
        return True

    def clear(self) -> None:
        for entry in self._entries.values():
            entry.timer.cancel()
        self._entries.clear()
