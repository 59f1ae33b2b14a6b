"""``GET /containerLogs/{namespace}/{pod}/{container}``: a provider's log, streamed.

The query is kubelet's (``follow``, ``tailLines``, ``timestamps``, ``sinceSeconds``,
``sinceTime``, ``limitBytes``, ``previous``), parsed into :class:`LogOptions` with
the API server's validation, so a bad value is a 400 with the reason.  The
namespace, pod and container segments must be valid Kubernetes names (a
``..``, an encoded ``/``, a NUL is a 400 before the provider is asked).

The response is chunked ``text/plain`` written as the provider yields, so
``kubectl logs -f`` sees lines as they are written.  The first chunk is awaited
briefly before the status line goes out: a provider reports an unknown pod or
container by raising on its first step, and that must still become a 404.  A
followed log that is quiet at first starts streaming (200) after that short wait.
``limitBytes`` is enforced here as well, so a provider that ignores it cannot
overrun a client's limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator

from aiohttp import web

from kubelet_core._provider.base import LogOptions, Provider
from kubelet_core._provider.errors import NotFound, NotSupported
from kubelet_core._provider.names import label_error, subdomain_error

#: How long to wait for a log's first chunk (or error) before answering 200 anyway.
FIRST_CHUNK_WAIT = 0.25

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False", ""}


class BadQuery(ValueError):
    pass


def _bool(query: dict[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadQuery(f"{name}: invalid boolean value {value!r}")


def _int(query: dict[str, str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadQuery(f"{name}: invalid integer value {value!r}") from None
    if number < minimum:
        raise BadQuery(f"{name}: must be greater than or equal to {minimum}")
    return number


def parse_log_options(query: dict[str, str]) -> LogOptions:
    """The query string as :class:`LogOptions`, validated as the API server does."""
    since_time = None
    raw_time = query.get("sinceTime")
    if raw_time:
        try:
            since_time = datetime.datetime.fromisoformat(raw_time)
        except ValueError:
            raise BadQuery(f"sinceTime: invalid RFC3339 time {raw_time!r}") from None
        if since_time.tzinfo is None:
            since_time = since_time.replace(tzinfo=datetime.UTC)
    since_seconds = _int(query, "sinceSeconds", 1)
    if since_seconds is not None and since_time is not None:
        raise BadQuery("at most one of sinceTime or sinceSeconds may be specified")
    return LogOptions(
        follow=_bool(query, "follow"),
        tail_lines=_int(query, "tailLines", 0),
        timestamps=_bool(query, "timestamps"),
        since_seconds=since_seconds,
        since_time=since_time,
        limit_bytes=_int(query, "limitBytes", 1),
        previous=_bool(query, "previous"),
    )


def check_log_target(namespace: str, pod: str, container: str) -> None:
    """BadQuery unless the three path segments are names Kubernetes accepts.

    Checked before anything else: a segment with ``..``, ``/`` (``%2F``), a NUL
    or an empty one names no pod, and must not reach a provider that builds
    file paths from it.  kubelet answers 400 for a missing segment and 404
    for an unknown pod; an impossible name is a bad request.
    """
    for kind, value, why in (
        ("namespace", namespace, label_error(namespace)),
        ("pod name", pod, subdomain_error(pod)),
        ("container name", container, label_error(container)),
    ):
        if why is not None:
            raise BadQuery(f"invalid {kind} {value!r}: {why}")


async def stream_container_logs(request: web.Request, provider: Provider) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    pod = request.match_info["pod"]
    container = request.match_info["container"]
    try:
        check_log_target(namespace, pod, container)
        options = parse_log_options(dict(request.query))
    except BadQuery as error:
        raise web.HTTPBadRequest(text=str(error)) from None

    chunks: AsyncIterator[bytes] = provider.container_logs(namespace, pod, container, options)
    first: asyncio.Task[bytes | None] = asyncio.ensure_future(_next(chunks))
    try:
        try:
            await asyncio.wait({first}, timeout=FIRST_CHUNK_WAIT)
            if first.done():
                first.result()  # raises the provider's error, mapped below
        except NotFound as error:
            raise web.HTTPNotFound(text=error.message) from None
        except NotSupported as error:
            raise web.HTTPNotImplemented(text=error.message) from None
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await _copy(first, chunks, response, options.limit_bytes)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
    finally:
        if not first.done():
            first.cancel()
            await asyncio.wait({first})
        await _close(chunks)


async def _copy(
    first: asyncio.Task[bytes | None],
    chunks: AsyncIterator[bytes],
    response: web.StreamResponse,
    limit: int | None,
) -> None:
    """Write chunks until the log ends or ``limit`` bytes are out."""
    try:
        chunk = await first
        while chunk is not None:
            if limit is not None:
                chunk = chunk[:limit]
                limit -= len(chunk)
            if chunk:
                await response.write(chunk)
            if limit == 0:
                return
            chunk = await _next(chunks)
    except (NotFound, NotSupported) as error:
        # The status line is out already: end the stream with the reason as its last line.
        with contextlib.suppress(ConnectionError):
            await response.write(f"\n{error.message}\n".encode())


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


async def _close(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
