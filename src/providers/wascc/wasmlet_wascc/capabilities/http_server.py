"""``wascc:http_server``: one HTTP server per actor container, requests become ``HandleRequest``.

Each bound actor gets its own aiohttp server on the node IP.  The port, as
Krustlet chose it (and fixing its collisions, krustlet#288):

* the container's ``hostPort`` if it names one -- it must be free, or the
  container fails to start with reason ``HostPortInUse`` (the scheduler keeps
  pods' host ports apart, so only a foreign process can hold it);
* else its ``containerPort`` (or the pod env's ``PORT``) if free on the node;
* else the next free port of the provider's range (30000-32767 by default).

The port ends up in the binding's ``PORT`` setting, in a ``wasmlet:`` line
of the container log and in a Normal ``ActorListening`` event: a provider
cannot annotate the pod, and a running container state has no message.
Binding finishes once the socket listens, so a container that is Running
accepts connections.

A request becomes wascc-codec's ``Request{method, path, queryString, header,
body}`` (path and query as sent, percent-encoding kept; header names
lower-case, repeated headers joined with ", "); the actor's
``Response{statusCode, status, header, body}`` goes back to the client.  A
call that fails answers 500 (guest error or trap), 504 (deadline) or 503
(actor stopping); the actor itself keeps running.
"""

from __future__ import annotations

import asyncio
import errno
import functools
from typing import Any

from aiohttp import web

from wasmlet_wascc.capabilities.base import (
    ActorBinding,
    BindError,
    Capability,
    CapabilityError,
    CapabilityHost,
)
from wasmlet_wascc.codec import HANDLE_REQUEST, CodecError, HttpRequest, HttpResponse
from wasmlet_wascc.pool import ActorStopped
from wasmlet_wascc.wapc import GuestError, GuestTrap

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_MAX_RANGE_ATTEMPTS = 64


class HttpServerCapability(Capability):
    capability_id = "wascc:http_server"

    def __init__(self, *, max_body_bytes: int = 1 << 20) -> None:
        self.max_body_bytes = max_body_bytes
        self._host: CapabilityHost | None = None
        self._taken: set[int] = set()
        self._next_in_range: int | None = None
        self._bind_lock = asyncio.Lock()

    async def start(self, host: CapabilityHost) -> None:
        self._host = host
        self._next_in_range = host.port_range[0]

    def invoke(self, binding: ActorBinding, operation: str, payload: bytes) -> bytes:
        raise CapabilityError("wascc:http_server takes no calls from actors")

    async def bind(self, binding: ActorBinding) -> None:
        assert self._host is not None, "start() first"
        wanted, strict = _wanted_port(binding)
        server = web.Server(
            functools.partial(self._handle, binding),
            request_factory=self._request_factory,
            access_log=None,
        )
        runner = web.ServerRunner(server, shutdown_timeout=self._host.call_timeout + 0.5)
        await runner.setup()
        try:
            async with self._bind_lock:
                port = await self._listen(runner, wanted, strict)
                self._taken.add(port)
        except BaseException:
            await runner.cleanup()
            raise
        binding.state["runner"] = runner
        binding.state["port"] = port
        binding.config["PORT"] = str(port)
        url = f"http://{_url_host(self._host.node_ip)}:{port}"
        binding.endpoints.append(url)
        note = f"actor {binding.actor_name} serves HTTP on {url}"
        if wanted is not None and port != wanted:
            note += f" (port {wanted} was taken)"
        binding.log.note(note)
        binding.record_event("Normal", "ActorListening", note)

    def _request_factory(
        self,
        message: Any,
        payload: Any,
        protocol: Any,
        writer: Any,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        """Plain requests, with our body size limit (aiohttp's low-level server has no option)."""
        assert self._host is not None
        return web.BaseRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            self._host.loop,
            client_max_size=self.max_body_bytes,
        )

    async def _listen(self, runner: web.ServerRunner, wanted: int | None, strict: bool) -> int:
        assert self._host is not None
        if wanted is not None and wanted not in self._taken and await self._try(runner, wanted):
            return wanted
        if strict:
            raise BindError(f"hostPort {wanted} is in use on this node", reason="HostPortInUse")
        low, high = self._host.port_range
        size = high - low + 1
        start = self._next_in_range or low
        attempts = 0
        for offset in range(size):
            port = low + (start - low + offset) % size
            if port in self._taken:
                continue
            attempts += 1
            if await self._try(runner, port):
                self._next_in_range = low + (port - low + 1) % size
                return port
            if attempts >= _MAX_RANGE_ATTEMPTS:
                break
        raise BindError(f"no free port in {low}-{high} on this node", reason="NoPortAvailable")

    async def _try(self, runner: web.ServerRunner, port: int) -> bool:
        assert self._host is not None
        site = web.TCPSite(runner, self._host.node_ip, port)
        try:
            await site.start()
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise BindError(f"cannot listen on {self._host.node_ip}:{port}: {error}") from None
        return True

    async def unbind(self, binding: ActorBinding, grace_period_seconds: float) -> None:
        runner: web.ServerRunner | None = binding.state.pop("runner", None)
        port: int | None = binding.state.pop("port", None)
        try:
            if runner is not None:
                # stopping the site closes the listening socket at once; waiting for
                # requests in flight is what the grace period bounds
                async with asyncio.timeout(max(grace_period_seconds, 0.1)):
                    await runner.cleanup()
        except TimeoutError:
            pass
        finally:
            if port is not None:
                self._taken.discard(port)

    async def _handle(self, binding: ActorBinding, request: web.BaseRequest) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as error:
            return error
        header: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            header[key] = f"{header[key]}, {value}" if key in header else value
        message = HttpRequest(
            method=request.method,
            path=request.rel_url.raw_path,
            query_string=request.rel_url.raw_query_string,
            header=header,
            body=body,
        )
        try:
            payload = await binding.call_actor(HANDLE_REQUEST, message.encode())
            response = HttpResponse.decode(payload)
        except GuestTrap as trap:
            status = 504 if trap.interrupted else 500
            return web.Response(status=status, text=f"actor call failed: {trap}\n")
        except GuestError as error:
            return web.Response(status=500, text=f"actor error: {error}\n")
        except ActorStopped:
            return web.Response(status=503, text="actor is stopping\n")
        except CodecError as error:
            return web.Response(status=502, text=f"actor sent an invalid response: {error}\n")
        headers = {k: v for k, v in response.header.items() if k.lower() not in _HOP_BY_HOP}
        reason = response.status if response.status.isprintable() and response.status else None
        return web.Response(
            status=response.status_code, reason=reason, body=response.body, headers=headers
        )


def _wanted_port(binding: ActorBinding) -> tuple[int | None, bool]:
    """(port, strict): the hostPort (strict), containerPort or PORT env (preferred)."""
    ports = [p for p in binding.container.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
    for port in ports:
        if port.get("hostPort"):
            return int(port["hostPort"]), True
    for port in ports:
        if port.get("containerPort"):
            return int(port["containerPort"]), False
    env_port = binding.config.get("PORT", "")
    if env_port.isdigit() and 0 < int(env_port) < 65536:
        return int(env_port), False
    return None, False


def _url_host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip
