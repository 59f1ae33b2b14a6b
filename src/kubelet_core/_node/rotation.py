"""Certificate rotation: renew before expiry, switch without a restart.

One :class:`CertificateRotation` per certificate (the client certificate the
node talks to the API server with; the kubelet API's serving certificate
with ``--rotate-server-certificates``).  Each sleeps until a jittered 70-90 %
of its certificate's lifetime has passed (kubelet's schedule), asks for a new
one with a fresh key through a CSR, stores it, flips the ``-current`` link and
tells its user to load it: a TLS context reloaded in place serves new
connections with the new certificate while requests in flight finish on the
old one, so nothing is lost in the switch.  Failures retry with back-off and
never end the agent: the old certificate stays in use until it expires.
"""

from __future__ import annotations

import asyncio
import datetime
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kubelet_core._apiclient import ApiError, Backoff
from kubelet_core._node.certificates import (
    CertificateError,
    CertificateFiles,
    check_clock,
    renewal_time,
)
from kubelet_core._pki import key_pem, new_key

log = structlog.get_logger(__name__)

#: Ask for a certificate (the CSR for this key) and return the issued PEM chain.
Requester = Callable[[ec.EllipticCurvePrivateKey], Awaitable[bytes]]


class CertificateRotation:
    """Keeps one certificate of the node fresh (a controller: :meth:`run` until stopped)."""

    def __init__(
        self,
        files: CertificateFiles,
        request: Requester,
        on_rotated: Callable[[Path], None],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.files = files
        self._request = request
        self._on_rotated = on_rotated
        self._rng = rng or random.Random()
        #: What "now" is; tests drive it (with :meth:`wake`) instead of sleeping.
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._wake = asyncio.Event()
        self._forced = False
        self._jitter: dict[int, datetime.datetime] = {}  # serial -> renewal time
        self.rotations = 0
        #: Set after every rotation (a fresh event each time: await the current one).
        self.rotated = asyncio.Event()
        self.renew_at: datetime.datetime | None = None
        #: Set once a renewal time is known (the rotation is waiting for it).
        self.scheduled = asyncio.Event()

    def renew_now(self) -> None:
        """Renew at once (e.g. the API server rejected the current certificate)."""
        self._forced = True
        self._wake.set()

    def wake(self) -> None:
        """Look at the clock again (after it was moved)."""
        self._wake.set()

    def _renewal_time(self, cert: x509.Certificate) -> datetime.datetime:
        """Jittered once per certificate, so looking again does not move the deadline."""
        if cert.serial_number not in self._jitter:
            self._jitter = {cert.serial_number: renewal_time(cert, self._rng)}
        return self._jitter[cert.serial_number]

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(1.0, 300.0)
        while not stopping.is_set():
            cert = self.files.load(self.clock())
            if cert is not None and not self._forced:
                self.renew_at = self._renewal_time(cert)
                self.scheduled.set()
                wait = (self.renew_at - self.clock()).total_seconds()
                if wait > 0:
                    if await self._sleep(stopping, wait):
                        return
                    continue  # woken or slept: look again
            self._forced = False
            try:
                if not await self._until_stopping(self._rotate(), stopping):
                    return
                backoff.reset()
            except (ApiError, CertificateError, OSError) as error:
                delay = backoff.next()
                log.warning(
                    "certificate rotation failed; the current certificate stays in use",
                    kind=self.files.kind,
                    error=str(error),
                    retry_in=round(delay, 1),
                )
                if await self._sleep(stopping, delay):
                    return

    @staticmethod
    async def _until_stopping(work: Awaitable[None], stopping: asyncio.Event) -> bool:
        """Run ``work`` unless the agent stops first (a CSR may wait for hours for a
        person); False when stopping cancelled it."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(stop, return_exceptions=True)
        if task.cancelled() or (stopping.is_set() and not task.done()):
            await asyncio.gather(task, return_exceptions=True)
            return False
        task.result()  # raises what the rotation raised
        return True

    async def _sleep(self, stopping: asyncio.Event, seconds: float) -> bool:
        """Sleep until ``seconds`` pass or someone wakes us; True when stopping."""
        stop = asyncio.ensure_future(stopping.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {stop, woken}, timeout=min(seconds, 86400.0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stop, woken):
                task.cancel()
            await asyncio.gather(stop, woken, return_exceptions=True)
        self._wake.clear()
        return stopping.is_set()

    async def _rotate(self) -> None:
        key = new_key()
        cert_pem = await self._request(key)
        check_clock(cert_pem)
        path = self.files.write(cert_pem, key_pem(key))
        self._on_rotated(path)
        self.rotations += 1
        self.rotated.set()
        self.rotated = asyncio.Event()
        log.info("certificate rotated", kind=self.files.kind, path=str(path))
