"""The node's one cache of ConfigMaps and Secrets, filled by one watch per referenced object.

Volumes (configMap, secret, projected), container env (``configMapKeyRef``,
``secretKeyRef``, ``envFrom``) and image pull secrets all read the objects
a pod refers to from here, as kubelet's configmap and secret managers
serve all three.  Kubelet's default ``Watch`` change-detection strategy,
reproduced: one watch per referenced object, ``fieldSelector=metadata.name=
<name>`` in its namespace, started when the first pod refers to it and
stopped when the last such pod is gone.  Why not one watch per namespace?
It would stream every Secret of the namespace to every node -- more traffic,
and secrets the node has no business holding (the node authorizer of a real
cluster refuses it anyway).  A handful of pods referencing a handful of
objects is a handful of idle HTTP streams.

Each watch is a :class:`~kubelet_core._apiclient.reflector.Reflector` (list,
watch from the list's resourceVersion, resume, 410 relist, backoff; the
list works for an object that does not exist yet).  Every change, the object
appearing included, calls its subscribers' callbacks (volumes rewrite their
files; env and pull secrets subscribe without one: they read at container
start and only need the cache kept).  :meth:`ObjectWatcher.get` answers from
the cache once the watch has listed, else with a direct ``GET``.  Object
contents are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from kubelet_core._apiclient import ApiError
from kubelet_core._apiclient.backoff import Backoff
from kubelet_core._apiclient.objects import name as name_of
from kubelet_core._apiclient.objects import resource_version
from kubelet_core._apiclient.reflector import EventType, Reflector
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

ObjectKey = tuple[str, str, str]  # (plural, namespace, name)
Callback = Callable[[], None]


class ObjectReader(Protocol):
    """Reads the ConfigMaps and Secrets one pod refers to (what env and pulls need)."""

    async def get(self, plural: str, namespace: str, name: str) -> KubeObject | None:
        """The object, None if it does not exist; ApiError if it cannot be read."""


@dataclasses.dataclass
class _Watch:
    """One watched object: its cache entry and who wants to hear of changes."""

    key: ObjectKey
    subscribers: dict[str, Callback | None] = dataclasses.field(default_factory=dict)
    obj: KubeObject | None = None
    synced: bool = False
    task: asyncio.Task[None] | None = None

    # -- the reflector's owner ---------------------------------------------------------------

    def replaced(self, items: list[KubeObject]) -> None:
        self._set(next((o for o in items if name_of(o) == self.key[2]), None))

    def event(self, kind: EventType, obj: KubeObject) -> None:
        if name_of(obj) == self.key[2]:
            self._set(None if kind == "DELETED" else obj)

    def _set(self, obj: KubeObject | None) -> None:
        changed = (
            not self.synced
            or (self.obj is None) != (obj is None)
            or resource_version(self.obj or {}) != resource_version(obj or {})
        )
        self.obj, self.synced = obj, True
        if not changed:
            return
        for callback in list(self.subscribers.values()):
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                log.exception("object change callback failed", kind=self.key[0])


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

    def subscribe(self, key: ObjectKey, owner: str, callback: Callback | None = None) -> None:
        """Keep ``key`` watched until ``unsubscribe(owner)``; call ``callback`` on changes.

        Without a callback an owner only keeps the cache filled; a later
        subscription of the same owner with a callback adds it.
        """
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch(key)
            if self.api is not None:
                watch.task = asyncio.create_task(
                    self._run(watch), name=f"watch {key[0]} {key[1]}/{key[2]}"
                )
        if callback is not None or owner not in watch.subscribers:
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

    def reader(self, owner: str | None) -> PodObjects:
        """The objects as ``owner`` (one pod) reads them: each read keeps a watch on it.

        ``None`` reads without starting a watch (a cached object is still used).
        """
        return PodObjects(self, owner)

    async def close(self) -> None:
        tasks = [w.task for w in self._watches.values() if w.task is not None]
        self._watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, watch: _Watch) -> None:
        plural, namespace, name = watch.key
        reflector = Reflector(
            self.api,
            f"/api/v1/namespaces/{namespace}/{plural}",
            watch,
            selector={"fieldSelector": f"metadata.name={name}"},
            backoff=Backoff(self.retry_initial, self.retry_max),
            describe={"kind": plural, "namespace": namespace, "name": name},
        )
        await reflector.run()


@dataclasses.dataclass(frozen=True)
class PodObjects:
    """One pod's reads through the node's cache (implements :class:`ObjectReader`)."""

    watcher: ObjectWatcher
    owner: str | None

    async def get(self, plural: str, namespace: str, name: str) -> KubeObject | None:
        key = (plural, namespace, name)
        if self.owner is not None:
            self.watcher.subscribe(key, self.owner)
        return await self.watcher.get(key)
