"""Streaming watch responses: newline-delimited JSON events, exactly one encoding per event.

A watch is a Store watcher (a queue fed synchronously by every mutation of the type) plus
a per-stream filter. For a filtered watch the filter is checked against both the new and
the previous object, so an object that starts matching is sent as ADDED and one that
stops matching as DELETED (carrying its previous content), as kube-apiserver's watch cache
does. Queued events are drained in batches into a single write to keep syscalls down when
thousands of pods change at once. Bookmarks are sent only when the queue is empty, so the
bookmark's resourceVersion never gets ahead of an event still waiting to be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import jsonutil
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.resources import ResourceType
from kubelet_core._controlplane.selectors import Filter
from kubelet_core._controlplane.store import Entry, Event, Store, TooOld

KubeObject = dict[str, Any]
# Turns (event type, object, encoded object) into the encoded object sent in the event.
Transform = Callable[[str, KubeObject, bytes], bytes]

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_TYPES = {t: t.encode() for t in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")}


def event_line(kind: str, data: bytes) -> bytes:
    return b'{"type":"' + _TYPES[kind] + b'","object":' + data + b"}\n"


class WatchRequest:
    def __init__(self, rt: ResourceType, flt: Filter, query: Any) -> None:
        self.rt = rt
        self.filter = flt
        rv = query.get("resourceVersion", "")
        self.send_initial_param = query.get("sendInitialEvents", "")
        self.send_initial_param = self.send_initial_param in _TRUE
        self.send_initial = rv in ("", "0") or self.send_initial_param
        try:
            self.since: int | None = None if self.send_initial else int(rv)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid resource version: {rv!r}") from exc
        self.bookmarks = query.get("allowWatchBookmarks", "") in _TRUE
        timeout = query.get("timeoutSeconds", "")
        self.timeout: float | None = float(timeout) if timeout else None


def add_warnings(response: web.StreamResponse, warnings: Iterable[str]) -> None:
    """RFC 7234 ``Warning: 299 - "<text>"`` headers, as kube-apiserver's warning recorder
    writes them (kubectl prints each as ``Warning: <text>``)."""
    for text in warnings:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{quoted}"')


async def serve_watch(
    request: web.Request,
    store: Store,
    wr: WatchRequest,
    *,
    bookmark_interval: float,
    transform: Transform | None = None,
    warnings: Iterable[str] = (),
) -> web.StreamResponse:
    rt, flt = wr.rt, wr.filter
    try:
        watcher = store.watch(rt, wr.since)
        initial: Iterable[Entry] = []
        if wr.send_initial:
            # Same synchronous step as registering: no event can fall in between.
            initial = [e for e in store.entries(rt, flt.namespace) if flt(e.obj)]
            start_rv = store.rv
    except TooOld as exc:
        watcher = None
        too_old = exc
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
    )
    add_warnings(response, warnings)  # headers go out with prepare: only now can they be set
    response.enable_chunked_encoding()
    await response.prepare(request)
    if watcher is None:
        status = ApiError(410, "Expired", str(too_old)).status()
        await response.write(event_line("ERROR", jsonutil.dumps(status)))
        return response

    def encode(kind: str, obj: KubeObject, data: bytes) -> bytes:
        return event_line(kind, transform(kind, obj, data) if transform else data)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wr.timeout if wr.timeout is not None else None
    try:
        chunk = [encode("ADDED", e.obj, e.data) for e in initial]
        if wr.send_initial and wr.bookmarks and wr.send_initial_param:
            chunk.append(_bookmark(rt, start_rv, initial_end=True, transform=transform))
        if chunk:
            await response.write(b"".join(chunk))
        last_bookmark = loop.time()
        while True:
            wait = bookmark_interval if wr.bookmarks else None
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = remaining if wait is None else min(wait, remaining)
            try:
                first: Event | None = None
                async with asyncio.timeout(wait):
                    first = await watcher.queue.get()
            except TimeoutError:
                first = None  # nothing happened: maybe time for a bookmark
            else:
                if first is None:
                    break  # the server is stopping
            lines: list[bytes] = []
            stopping = False
            if first is not None:
                _render(first, flt, encode, lines)
                queue = watcher.queue
                while not queue.empty():
                    event = queue.get_nowait()
                    if event is None:
                        stopping = True
                        break
                    _render(event, flt, encode, lines)
            if stopping:
                if lines:
                    await response.write(b"".join(lines))
                break
            if (
                wr.bookmarks
                and watcher.queue.empty()
                and loop.time() - last_bookmark >= bookmark_interval
            ):
                lines.append(_bookmark(rt, store.rv, transform=transform))
                last_bookmark = loop.time()
            if lines:
                await response.write(b"".join(lines))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unwatch(watcher)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


def _render(
    event: Event, flt: Filter, encode: Callable[[str, KubeObject, bytes], bytes], out: list[bytes]
) -> None:
    if flt.trivial:
        out.append(encode(event.type, event.obj, event.data))
        return
    if event.type == "DELETED":
        if flt(event.obj):
            out.append(encode("DELETED", event.obj, event.data))
        return
    now_matches = flt(event.obj)
    before = event.prev is not None and flt(event.prev)
    if now_matches:
        out.append(encode("MODIFIED" if before else "ADDED", event.obj, event.data))
    elif before:
        assert event.prev is not None
        gone = dict(event.prev)
        gone["metadata"] = dict(gone["metadata"], resourceVersion=str(event.rv))
        out.append(encode("DELETED", gone, jsonutil.dumps(gone)))


def _bookmark(
    rt: ResourceType, rv: int, *, initial_end: bool = False, transform: Transform | None = None
) -> bytes:
    meta: KubeObject = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
    data = jsonutil.dumps(obj)
    return event_line("BOOKMARK", transform("BOOKMARK", obj, data) if transform else data)
