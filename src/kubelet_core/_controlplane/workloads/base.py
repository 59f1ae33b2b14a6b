"""The shape every workload controller has: a keyed work queue fed by store events.

As in kube-controller-manager, a controller maps each store event to the keys of the
objects it must look at again (a pod event to its owner), and reconciles one key at a
time from the current state, so a burst of a thousand pod updates becomes a handful of
reconciles. A reconcile may ask to be called again at a moment on the :class:`Clock`
(backoff, deadlines, schedules); moving the clock wakes the queue. Conflicts (someone
wrote first) are retried at once; other failures are logged and retried after a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable
from typing import Any

from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import Registry, now
from kubelet_core._controlplane.resources import EVENTS, ResourceType
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)
log = logging.getLogger(__name__)


class WorkloadController(ABC):
    name = "controller"
    #: The resource type whose objects are the queue's keys.
    kind: ResourceType

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self._queue: dict[Key, None] = {}
        self._later: dict[Key, float] = {}  # key -> clock time it is due
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._side: set[asyncio.Task[Any]] = set()
        self._running = False

    # -- wiring ------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        for entry in self.store.entries(self.kind):
            self.enqueue(key_of(entry.obj))
        self.store.add_listener(self._listen)
        self.clock.on_advance(self._wake.set)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._running = False
        for task in list(self._side):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _listen(self, event: Event) -> None:
        if self._running:
            for key in self.keys_for(event):
                self.enqueue(key)

    def keys_for(self, event: Event) -> Iterable[Key]:
        """The keys to reconcile after ``event``: by default the object itself."""
        if event.rt is self.kind:
            yield key_of(event.obj)

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        if after > 0:
            due = self.clock.time() + after
            if due < self._later.get(key, float("inf")):
                self._later[key] = due
        else:
            self._queue[key] = None
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            self._promote_due()
            if not self._queue:
                wait = None
                if self._later:
                    wait = max(0.0, min(self._later.values()) - self.clock.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                self._wake.clear()
                continue
            key = next(iter(self._queue))
            del self._queue[key]
            try:
                await self.reconcile(key)
            except ApiError as exc:
                if exc.code in (404, 409):
                    self.enqueue(key, 0.02)
                else:
                    log.warning("%s: reconciling %s/%s: %s", self.name, *key, exc.message)
                    self.enqueue(key, 1.0)
            except Exception:
                log.exception("%s: reconciling %s/%s failed", self.name, *key)
                self.enqueue(key, 1.0)

    def _promote_due(self) -> None:
        moment = self.clock.time()
        for key, due in list(self._later.items()):
            if due <= moment:
                del self._later[key]
                self._queue[key] = None

    @abstractmethod
    async def reconcile(self, key: Key) -> None: ...

    # -- helpers shared by the controllers ------------------------------------------------
    def get(self, rt: ResourceType, key: Key) -> KubeObject | None:
        entry = self.store.get(rt, *key)
        return None if entry is None else entry.obj

    def owned(self, rt: ResourceType, owner: KubeObject) -> list[KubeObject]:
        """Objects of ``rt`` whose controller reference names ``owner`` (by uid)."""
        uid = owner["metadata"]["uid"]
        found = []
        for type_key, ns, name in list(self.store.dependents.get(uid, ())):
            if type_key != rt.key:
                continue
            entry = self.store.get(rt, ns, name)
            if entry is not None and controller_uid(entry.obj) == uid:
                found.append(entry.obj)
        return found

    async def write_status(self, rt: ResourceType, obj: KubeObject, status: KubeObject) -> None:
        if obj.get("status") == status:
            return
        meta = obj["metadata"]
        await self.registry.update(
            rt, meta["namespace"], meta["name"], dict(obj, status=status), subresource="status"
        )

    def event(self, obj: KubeObject, type_: str, reason: str, message: str) -> None:
        """Record an Event about ``obj`` without holding up the reconcile."""
        meta = obj["metadata"]
        stamp = now()
        body = {
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}"},
            "involvedObject": {
                "kind": obj.get("kind", self.kind.kind),
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": obj.get("apiVersion", self.kind.api_version),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
            "source": {"component": self.name},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "reportingComponent": self.name,
            "reportingInstance": self.name,
        }
        self.spawn(self._create_event(meta["namespace"], body))

    async def _create_event(self, namespace: str, body: KubeObject) -> None:
        with contextlib.suppress(ApiError):
            await self.registry.create(EVENTS, namespace, body)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._side.add(task)
        task.add_done_callback(self._side.discard)


def key_of(obj: KubeObject) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def controller_ref(obj: KubeObject) -> KubeObject | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_uid(obj: KubeObject) -> str | None:
    ref = controller_ref(obj)
    return None if ref is None else str(ref.get("uid"))


def owner_keys(event: Event, kind: str) -> Iterable[Key]:
    """The (namespace, name) of the ``kind`` controllers of the event's object (old and new)."""
    seen = set()
    for obj in (event.obj, event.prev):
        if obj is None:
            continue
        ref = controller_ref(obj)
        if ref is not None and ref.get("kind") == kind:
            key = (obj["metadata"].get("namespace") or "", str(ref.get("name")))
            if key not in seen:
                seen.add(key)
                yield key


def owner_reference(owner: KubeObject, rt: ResourceType) -> KubeObject:
    meta = owner["metadata"]
    return {
        "apiVersion": rt.api_version,
        "kind": rt.kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


async def in_batches(calls: list[Awaitable[Any]], *, initial: int = 1) -> int:
    """Await ``calls`` in slow-start batches (1, 2, 4, ...), as the controllers create pods.

    Stops after the first batch with a failure (a quota, a terminating namespace) so a
    thousand doomed creates are not sent; returns how many succeeded.
    """
    done = 0
    size = initial
    pending = list(calls)
    while pending:
        batch, pending = pending[:size], pending[size:]
        results = await asyncio.gather(*batch, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        done += len(results) - len(failures)
        if failures:
            for rest in pending:  # never awaited: close them
                close = getattr(rest, "close", None)
                if close is not None:
                    close()
            if isinstance(failures[0], Exception):
                raise failures[0]
            raise failures[0]
        size *= 2
    return done
