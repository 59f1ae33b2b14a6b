"""Token buckets: the client-side request limit and the per-object event limit.

The bucket works by reservation (as Go's ``rate.Limiter``): ``acquire`` takes
a token at once, possibly driving the balance negative, and then sleeps for
the debt.  Waiters are therefore served in arrival order without a lock or a
queue, and a burst of ``burst`` requests goes out immediately.  ``try_acquire``
never waits; the event recorder uses it to drop excess events.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is available now; never waits."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reserve(self) -> float:
        """Take a token now and return how long the caller must wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    @property
    def full(self) -> bool:
        """True when the bucket has refilled completely (its owner may forget it)."""
        self._refill()
        return self._tokens >= self.burst
