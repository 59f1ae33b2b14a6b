"""Watches exactly the ConfigMaps and Secrets the node's pod volumes use.

Kubelet's default ``Watch`` change-detection strategy, reproduced: one watch
per referenced object, ``fieldSelector=metadata.name=<name>`` in its
namespace, started when the first pod volume refers to it and stopped when
the last such pod is gone.  Why not one watch per namespace with a cache?
It would stream every Secret of the namespace to every node -- more traffic,
and secrets the node has no business holding (the node authorizer of a real
cluster refuses it anyway).  A handful of pods referencing a handful of
objects is a handful of idle HTTP streams.

A watch lists first (``GET`` with the field selector, which also works for an
object that does not exist yet), then watches from the list's
``resourceVersion``; every change, including the object appearing, calls the
subscribers' callbacks.  Watch errors (410 Gone, a dropped stream) re-list,
with back-off while the API is unreachable.  :meth:`ObjectWatcher.get`
answers from the cache once a watch has listed, else with a direct ``GET``.
Object contents are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import structlog

from kubelet_core._apiclient import ApiError, Backoff, watch_error
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

ObjectKey = tuple[str, str, str]  # (plural, namespace, name)
Callback = Callable[[], None]


@dataclasses.dataclass
class _Watch:
    key: ObjectKey
    subscribers: dict[str, Callback] = dataclasses.field(default_factory=dict)
    obj: KubeObject | None = None
    synced: bool = False
    task: asyncio.Task[None] | None = None


class ObjectWatcher:
    """Per-object watches of ConfigMaps and Secrets, shared by every pod on the node."""

    def __init__(self, api: Any, *, retry_initial: float = 0.5, retry_max: float = 30.0) -> None:
        self.api = api
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._watches: dict[ObjectKey, _Watch] = {}

    @property
    def watched(self) -> set[ObjectKey]:
        return set(self._watches)

    def subscribe(self, key: ObjectKey, owner: str, callback: Callback) -> None:
        """Call ``callback`` whenever ``key`` changes, until ``unsubscribe(owner)``."""
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch(key)
            if self.api is not None:
                watch.task = asyncio.create_task(
                    self._run(watch), name=f"watch {key[0]} {key[1]}/{key[2]}"
                )
        watch.subscribers[owner] = callback

    def unsubscribe(self, owner: str) -> None:
        """Forget every subscription of ``owner``; stop watches nobody needs any more."""
        for key, watch in list(self._watches.items()):
            watch.subscribers.pop(owner, None)
            if not watch.subscribers:
                del self._watches[key]
                if watch.task is not None:
                    watch.task.cancel()

    async def get(self, key: ObjectKey) -> KubeObject | None:
        """The object (None if it does not exist); raises ApiError if it cannot be read."""
        watch = self._watches.get(key)
        if watch is not None and watch.synced:
            return watch.obj
        if self.api is None:
            raise ApiError(0, "NoClient", "the node has no API client")
        plural, namespace, name = key
        try:
            obj = await self.api.request("GET", f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return obj if isinstance(obj, dict) else None

    async def close(self) -> None:
        tasks = [w.task for w in self._watches.values() if w.task is not None]
        self._watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the watch loop -------------------------------------------------------------------

    def _set(self, watch: _Watch, obj: KubeObject | None) -> None:
        old_rv = (watch.obj or {}).get("metadata", {}).get("resourceVersion")
        new_rv = (obj or {}).get("metadata", {}).get("resourceVersion")
        changed = not watch.synced or old_rv != new_rv or (watch.obj is None) != (obj is None)
        watch.obj, watch.synced = obj, True
        if changed:
            for callback in list(watch.subscribers.values()):
                try:
                    callback()
                except Exception:
                    log.exception("object change callback failed", kind=watch.key[0])

    async def _run(self, watch: _Watch) -> None:
        plural, namespace, name = watch.key
        path = f"/api/v1/namespaces/{namespace}/{plural}"
        selector = {"fieldSelector": f"metadata.name={name}"}
        backoff = Backoff(self.retry_initial, self.retry_max)
        while True:
            try:
                listed = await self.api.request("GET", path, params=selector)
                items = listed.get("items") or []
                self._set(watch, items[0] if items else None)
                version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
                backoff.reset()
                params = {
                    **selector,
                    "resourceVersion": version,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": "300",
                }
                async for event in self.api.watch(path, params=params):
                    error = watch_error(event)
                    if error is not None:
                        raise error
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "BOOKMARK":
                        continue
                    if (obj.get("metadata") or {}).get("name") != name:
                        continue
                    self._set(watch, None if kind == "DELETED" else obj)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.status != 410:
                    delay = backoff.next()
                    log.info(
                        "object watch failed, retrying",
                        kind=plural,
                        namespace=namespace,
                        name=name,
                        error=exc.reason,
                        retry_in=delay,
                    )
                    await asyncio.sleep(delay)
            except Exception as exc:
                log.warning("object watch broke, retrying", kind=plural, error=repr(exc))
                await asyncio.sleep(backoff.next())
