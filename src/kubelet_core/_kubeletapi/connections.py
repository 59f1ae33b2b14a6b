"""Connection limits of the kubelet API: a cap, and no idle connection kept for long.

Why: an aiohttp server keeps every connection it accepts, TLS handshake or
not, request or not, for as long as the peer likes (an attacker held 3,000).
Each one is a file descriptor of the agent, the same budget its pods' log
files, module files and API connections come from; once ``ulimit -n`` is
reached, pods fail.  So the kubelet API accepts its TCP connections itself,
here, and hands each one to aiohttp only after TLS:

* **a cap** (:attr:`ConnectionLimits.max_connections`, at most a quarter of
  the process's open-file limit): when the server is full, a new connection
  pushes out the oldest one that has not yet sent a complete request (a
  handshake in progress, or a silent peer); if every connection is serving a
  request, the new one is closed at once.  A flood of silent connections
  therefore never locks out the API server's proxy requests, and it never
  costs more than the cap in descriptors;
* **a deadline for the first request**
  (:attr:`ConnectionLimits.request_header_timeout`, Go's ``ReadHeaderTimeout``
  in spirit): the TLS handshake and the first request's headers must arrive
  within it, or the connection is aborted;
* **an idle timeout** (:attr:`ConnectionLimits.idle_timeout`, kubelet's
  ``IdleTimeout`` of 90 s, which matches Go's client keep-alive): aiohttp's
  keep-alive timeout, so a kept-alive connection with no next request is
  closed.  The server also closes the connection after answering a request
  that failed authentication, so an unauthenticated peer never idles on a
  kept-alive connection.

Connections are aborted (RST), not shut down gracefully: a peer that sends
nothing would not answer a TLS close_notify either.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import resource
import ssl
import time

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

#: How often "the kubelet API is full" is logged while it stays full.
_FULL_LOG_INTERVAL = 60.0


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """How many connections the kubelet API keeps, and for how long when idle."""

    #: Concurrent connections (TLS handshakes included); also capped to a quarter
    #: of ``RLIMIT_NOFILE`` so connections can never starve the pods of descriptors.
    max_connections: int = 256
    #: Seconds from accept until the first request's headers have arrived (TLS included).
    request_header_timeout: float = 10.0
    #: Seconds a kept-alive connection may wait for its next request.
    idle_timeout: float = 90.0
    #: The listening socket's accept backlog.
    backlog: int = 128

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.request_header_timeout <= 0 or self.idle_timeout <= 0:
            raise ValueError("connection timeouts must be positive")

    def cap(self, open_files_limit: int | None = None) -> int:
        """The connections actually allowed, given the soft ``RLIMIT_NOFILE``."""
        if open_files_limit is None:
            open_files_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if open_files_limit == resource.RLIM_INFINITY or open_files_limit <= 0:
            return self.max_connections
        return max(1, min(self.max_connections, open_files_limit // 4))


class _Connection(asyncio.Protocol):
    """One accepted TCP connection: TLS on top, then aiohttp's protocol behind it.

    It is the TCP transport's protocol until ``start_tls`` takes over, then the
    TLS layer's application protocol, forwarding everything to aiohttp's
    request handler (created once the handshake is done).
    """

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self._raw: asyncio.Transport | None = None
        self.tls: asyncio.Transport | None = None
        self._handler: web.RequestHandler | None = None
        self._early: list[bytes] = []  # data the TLS layer delivered before the handler was ready
        self._early_eof = False
        self._deadline: asyncio.TimerHandle | None = None
        self.requested = False  # a complete request arrived
        self.closed = False

    # -- as the TCP protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        transport.pause_reading()  # nothing is read before start_tls is in place
        if not self._gate._admit(self):
            self.closed = True
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._gate.limits.request_header_timeout, self._expire)
        self._gate._handshaking(loop.create_task(self._handshake(), name="kubelet-api-handshake"))

    async def _handshake(self) -> None:
        assert self._raw is not None
        if self.closed:  # pushed out before its handshake began
            return
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(
                self._raw,
                self,
                self._gate.ssl_context,
                server_side=True,
                # A backstop: the request deadline (already running) fires first.
                ssl_handshake_timeout=self._gate.limits.request_header_timeout + 1.0,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError, RuntimeError) as error:
            log.debug("kubelet API handshake failed", error=repr(error))
            self.abort()
            self._finished()
            return
        except asyncio.CancelledError:
            self.abort()
            self._finished()
            raise
        # None: lost (or aborted here) as the handshake ended; closed: pushed out or expired.
        if tls is None or self.closed:
            if tls is not None:
                tls.abort()
            self._finished()
            return
        self.tls = tls
        handler = self._gate.server()
        self._handler = handler
        self._gate._attached(self)
        handler.connection_made(tls)
        for data in self._early:
            handler.data_received(data)
        self._early.clear()
        if self._early_eof:
            handler.eof_received()

    # -- as the TLS layer's application protocol ----------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            self._early.append(data)
        else:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        if self._handler is None:
            self._early_eof = True
        else:
            self._handler.eof_received()
        return None  # the TLS layer closes the connection (aiohttp's answer too)

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finished()
        if self._handler is not None:
            self._handler.connection_lost(exc)

    # -- limits ------------------------------------------------------------------------

    def request_started(self) -> None:
        self.requested = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._gate._busy(self)

    def _expire(self) -> None:
        self._deadline = None
        if not self.requested:
            self._gate.timed_out += 1
            self.abort()

    def abort(self) -> None:
        """Drop the connection now (RST)."""
        if self.tls is not None:
            self.tls.abort()
        elif self._raw is not None:
            self._raw.abort()

    def _finished(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._gate._release(self)


class ConnectionGate:
    """Accepts the kubelet API's TCP connections within :class:`ConnectionLimits`.

    ``server`` is aiohttp's low-level ``web.Server`` (an ``AppRunner``'s
    ``server``), called for a request handler per connection after TLS.
    """

    def __init__(
        self, server: web.Server, ssl_context: ssl.SSLContext, limits: ConnectionLimits
    ) -> None:
        self.server = server
        self.ssl_context = ssl_context
        self.limits = limits
        self.cap = limits.cap()
        #: Connections that have not sent a complete request yet, oldest first.
        self._waiting: collections.OrderedDict[_Connection, None] = collections.OrderedDict()
        self._serving: set[_Connection] = set()
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._listener: asyncio.Server | None = None
        self._handshakes: set[asyncio.Task[None]] = set()
        self._full_logged = 0.0
        #: Counters, for logs and tests.
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0

    @property
    def open(self) -> int:
        """Connections held now (handshakes included)."""
        return len(self._waiting) + len(self._serving)

    async def listen(self, host: str, port: int) -> int:
        """Start accepting on ``host:port``; returns the port bound."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: _Connection(self),
            host,
            port,
            backlog=self.limits.backlog,
            reuse_address=True,
        )
        return int(self._listener.sockets[0].getsockname()[1])

    def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()

    async def close(self) -> None:
        """Stop accepting and drop every connection still held."""
        self.stop_listening()
        for connection in [*self._waiting, *self._serving]:
            connection.abort()
        for task in list(self._handshakes):
            task.cancel()
        await asyncio.gather(*self._handshakes, return_exceptions=True)
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        """aiohttp parsed a complete request on ``transport``: its deadline is met."""
        connection = self._by_transport.get(transport) if transport is not None else None
        if connection is not None and not connection.requested:
            connection.request_started()

    # -- bookkeeping (called by _Connection) -------------------------------------------

    def _admit(self, connection: _Connection) -> bool:
        if self.open >= self.cap:
            if self._waiting:
                victim, _ = self._waiting.popitem(last=False)
                self.evicted += 1
                victim.abort()
                victim._finished()
            else:
                self.refused += 1
                self._log_full()
                return False
            self._log_full()
        self._waiting[connection] = None
        return True

    def _handshaking(self, task: asyncio.Task[None]) -> None:
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _attached(self, connection: _Connection) -> None:
        if connection.tls is not None:
            self._by_transport[connection.tls] = connection

    def _busy(self, connection: _Connection) -> None:
        if connection in self._waiting:
            del self._waiting[connection]
            self._serving.add(connection)

    def _release(self, connection: _Connection) -> None:
        self._waiting.pop(connection, None)
        self._serving.discard(connection)
        if connection.tls is not None:
            self._by_transport.pop(connection.tls, None)

    def _log_full(self) -> None:
        now = time.monotonic()
        if now - self._full_logged >= _FULL_LOG_INTERVAL:
            self._full_logged = now
            log.warning(
                "kubelet API connection limit reached",
                cap=self.cap,
                evicted=self.evicted,
                refused=self.refused,
                timed_out=self.timed_out,
            )
