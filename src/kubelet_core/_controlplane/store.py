"""In-memory object store: the read path, resourceVersions, watch fan-out and history.

Every object lives in a dict keyed by (namespace, name) per resource type, next to its
JSON encoding, so lists and watch events reuse bytes instead of re-encoding.

Nothing is shown before it is durable. A mutation takes the next resourceVersion, is
*staged* (visible to ``get``, which the write path uses for its conflict and existence
checks, so two writers cannot both create one name) and queued for SQLite. Only when its
group commit has landed, together with the resourceVersion counter, is the batch
*published* in resourceVersion order, in one synchronous step per event: the committed
view (``read``/``entries``/``rv``, what GET, lists and watches serve), the type's bounded
history, the watchers' queues and the in-process listeners (scheduler, garbage
collector). So a watcher never sees an event that a crash could undo, a watch registered
at revision N sees exactly the events after N, and after a restart the counter continues
above every revision anyone has seen: resourceVersions never repeat or go backwards.

Stored dicts are never mutated after they are stored: writers build a new dict.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubelet_core._controlplane import jsonutil
from kubelet_core._controlplane.persistence import Persistence
from kubelet_core._controlplane.resources import BY_KEY, ResourceType

KubeObject = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace or "", name)
# Events a watcher may have queued before it is considered stuck and its watch is ended,
# as kube-apiserver ends watchers that cannot keep up.
MAX_BACKLOG = 50_000


@dataclass(slots=True)
class Entry:
    obj: KubeObject
    data: bytes


@dataclass(slots=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED
    rv: int
    rt: ResourceType
    obj: KubeObject
    data: bytes
    prev: KubeObject | None


class Watcher:
    """A queue of events for one watch stream of one resource type."""

    __slots__ = ("closed", "queue", "rt")

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False


Listener = Callable[[Event], None]


def obj_key(obj: KubeObject) -> ObjKey:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class Store:
    def __init__(self, persistence: Persistence, *, history_size: int = 10_000) -> None:
        self.persistence = persistence
        persistence.on_commit = self._publish_committed
        persistence.on_abort = self._unstage
        self.history_size = history_size
        # The last published (committed) resourceVersion, and the last one handed out.
        self.rv = 0
        self._allocated = 0
        self._objects: dict[str, dict[ObjKey, Entry]] = {rt.key: {} for rt in BY_KEY.values()}
        # Written but not yet committed: the latest entry (None: deleted) per key.
        # (its resourceVersion, so only that write's commit unstages it).
        self._staged: dict[str, dict[ObjKey, tuple[int, Entry | None]]] = {
            rt.key: {} for rt in BY_KEY.values()
        }
        self._history: dict[str, deque[Event]] = {rt.key: deque() for rt in BY_KEY.values()}
        # Events after this revision are all still in the history of that type.
        self._floor: dict[str, int] = {rt.key: 0 for rt in BY_KEY.values()}
        self._watchers: dict[str, set[Watcher]] = {rt.key: set() for rt in BY_KEY.values()}
        self._listeners: list[Listener] = []
        # owner uid -> {(type key, namespace, name)} for garbage collection
        self.dependents: dict[str, set[tuple[str, str, str]]] = {}

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        rv, rows = self.persistence.load()
        self.rv = self._allocated = rv
        for key, data in rows:
            type_key, _ns, _name = key.split("/", 2)
            rt = BY_KEY.get(type_key)
            if rt is None:
                continue
            obj = jsonutil.loads(data)
            self._objects[rt.key][obj_key(obj)] = Entry(obj, data)
            self._index_owners(rt, obj, add=True)
        for type_key in self._floor:
            self._floor[type_key] = rv
        self._load_history()

    def _load_history(self) -> None:
        """Rebuild the watch history from the persisted change log (see persistence)."""
        changes = self.persistence.load_changes()
        if not changes:
            return
        for type_key in self._floor:
            self._floor[type_key] = changes[0][0] - 1
        last: dict[str, KubeObject] = {}
        for rv, row_key, event_type, data in changes:
            rt = BY_KEY.get(row_key.split("/", 1)[0])
            if rt is None:
                continue
            obj = jsonutil.loads(data)
            prev = last.pop(row_key, None)
            if event_type != "DELETED":
                last[row_key] = obj
            history = self._history[rt.key]
            history.append(Event(event_type, rv, rt, obj, data, prev))
            while len(history) > self.history_size:
                self._floor[rt.key] = history.popleft().rv

    # -- reads -----------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        """The latest version, including writes still being committed (the write path)."""
        key = (namespace, name)
        staged = self._staged[rt.key]
        if key in staged:
            return staged[key][1]
        return self._objects[rt.key].get(key)

    def read(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        """The committed version only (what a GET serves)."""
        return self._objects[rt.key].get((namespace, name))

    def entries(self, rt: ResourceType, namespace: str | None = None) -> Iterable[Entry]:
        """Committed objects (lists and watches, consistent with ``rv``)."""
        objects = self._objects[rt.key]
        if namespace is None:
            return objects.values()
        return [e for (ns, _n), e in objects.items() if ns == namespace]

    def count(self, rt: ResourceType) -> int:
        return len(self._objects[rt.key])

    # -- writes ----------------------------------------------------------------------------
    def put(self, rt: ResourceType, obj: KubeObject) -> tuple[Event, asyncio.Future[None]]:
        """Stage ``obj`` (created or replaced) under a new resourceVersion.

        The returned future resolves once the write is committed and published.
        """
        self._allocated += 1
        rv = self._allocated
        obj["metadata"]["resourceVersion"] = str(rv)
        key = obj_key(obj)
        old = self.get(rt, *key)
        data = jsonutil.dumps(obj)
        entry = Entry(obj, data)
        self._staged[rt.key][key] = (rv, entry)
        event = Event("MODIFIED" if old else "ADDED", rv, rt, obj, data, old.obj if old else None)
        return event, self._queue(event, key, entry)

    def remove(
        self, rt: ResourceType, namespace: str, name: str
    ) -> tuple[Event, asyncio.Future[None]] | None:
        """Delete an object; the DELETED event carries the deletion's resourceVersion."""
        key = (namespace, name)
        old = self.get(rt, *key)
        if old is None:
            return None
        self._allocated += 1
        rv = self._allocated
        self._staged[rt.key][key] = (rv, None)
        obj = dict(old.obj)
        obj["metadata"] = dict(obj["metadata"], resourceVersion=str(rv))
        event = Event("DELETED", rv, rt, obj, jsonutil.dumps(obj), old.obj)
        return event, self._queue(event, key, None)

    def _queue(self, event: Event, key: ObjKey, entry: Entry | None) -> asyncio.Future[None]:
        row_key = f"{event.rt.key}/{key[0]}/{key[1]}"
        return self.persistence.write(
            row_key, event.rv, event.type, event.data, (event, key, entry)
        )

    def _publish_committed(self, committed: list[Any]) -> None:
        """Called by Persistence after each commit, in resourceVersion order."""
        for event, key, entry in committed:
            self._unstage_one(event, key)
            objects = self._objects[event.rt.key]
            old = objects.get(key)
            if old is not None:
                self._index_owners(event.rt, old.obj, add=False)
            if entry is None:
                objects.pop(key, None)
            else:
                objects[key] = entry
                self._index_owners(event.rt, entry.obj, add=True)
            self.rv = event.rv
            self._publish(event)

    def _unstage(self, failed: list[Any]) -> None:
        """A commit failed: forget its staged writes (their callers get the error)."""
        for event, key, _entry in failed:
            self._unstage_one(event, key)

    def _unstage_one(self, event: Event, key: ObjKey) -> None:
        staged = self._staged[event.rt.key]
        # A later write to the same key may be staged on top: leave that one in place.
        if staged.get(key, (0, None))[0] == event.rv:
            del staged[key]

    def _publish(self, event: Event) -> None:
        rt = event.rt
        history = self._history[rt.key]
        history.append(event)
        while len(history) > self.history_size:
            self._floor[rt.key] = history.popleft().rv
        watchers = self._watchers[rt.key]
        for watcher in watchers:
            watcher.queue.put_nowait(event)
        if watchers and any(w.queue.qsize() > MAX_BACKLOG for w in watchers):
            self._drop_slow(rt)
        for listener in self._listeners:
            listener(event)

    def _index_owners(self, rt: ResourceType, obj: KubeObject, *, add: bool) -> None:
        refs = obj["metadata"].get("ownerReferences")
        if not refs:
            return
        me = (rt.key, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        for ref in refs:
            uid = ref.get("uid")
            if not uid:
                continue
            if add:
                self.dependents.setdefault(uid, set()).add(me)
            else:
                deps = self.dependents.get(uid)
                if deps is not None:
                    deps.discard(me)
                    if not deps:
                        del self.dependents[uid]

    # -- watching --------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def watch(self, rt: ResourceType, since: int | None) -> Watcher:
        """Register a watcher; with ``since``, first queue the retained events after it.

        Raises TooOld if events after ``since`` have left the history window.
        """
        watcher = Watcher(rt)
        if since is not None:
            floor = self._floor[rt.key]
            if since < floor:
                raise TooOld(since, floor + 1)
            for event in self._history[rt.key]:
                if event.rv > since:
                    watcher.queue.put_nowait(event)
        self._watchers[rt.key].add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        watcher.closed = True
        self._watchers[watcher.rt.key].discard(watcher)

    def _drop_slow(self, rt: ResourceType) -> None:
        """End watches whose client stopped reading (it re-lists and watches again)."""
        for watcher in list(self._watchers[rt.key]):
            if watcher.queue.qsize() > MAX_BACKLOG:
                self._watchers[rt.key].discard(watcher)
                watcher.queue.put_nowait(None)

    def close_watchers(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)

    def oldest_rv(self, rt: ResourceType) -> int:
        return self._floor[rt.key]
