"""The garbage collector's orphan and foreground propagation (background is the registry's).

Deleting with ``propagationPolicy: Orphan`` or ``Foreground`` does not remove the object:
kube-apiserver adds the ``orphan`` or ``foregroundDeletion`` finalizer and sets
``deletionTimestamp``, and the garbage collector finishes the job.

* ``orphan``: every dependent loses its ownerReference to the object, then the
  finalizer goes and the object with it.
* ``foregroundDeletion``: every dependent is deleted (itself in the foreground when it
  has dependents of its own); the owner stays, visible with its deletionTimestamp, until
  no dependent with ``blockOwnerDeletion: true`` is left, then the finalizer goes.

Background deletion (the default) removes the owner at once and the registry deletes
the dependents after it (``Registry._collect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.resources import BY_KEY, ResourceType
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
log = logging.getLogger(__name__)
ObjRef = tuple[str, str, str]  # (type key, namespace, name)


def propagation_finalizer(policy: str, meta: KubeObject) -> str | None:
    """The finalizer a delete with ``policy`` adds, or None (background: delete now)."""
    wanted = {"Orphan": ORPHAN, "Foreground": FOREGROUND}.get(policy)
    if wanted is None or wanted in (meta.get("finalizers") or []):
        return None
    return wanted


class GarbageCollector(BackgroundController):
    def __init__(self, store: Store, registry: Any) -> None:
        self.store = store
        self.registry = registry
        self._deleting: dict[str, ObjRef] = {}  # uid of owners being finalized -> ref
        self._queue: dict[ObjRef, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for rt in BY_KEY.values():
            for entry in self.store.entries(rt):
                self._track(rt, entry.obj)
        self.store.add_listener(self._on_event)
        self._launch("garbage-collector")

    def _track(self, rt: ResourceType, obj: KubeObject) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and {ORPHAN, FOREGROUND} & set(
            meta.get("finalizers") or []
        ):
            ref = (rt.key, meta.get("namespace") or "", meta["name"])
            self._deleting[meta["uid"]] = ref
            self._queue[ref] = None
            self._wake.set()

    def _on_event(self, event: Event) -> None:
        if self._task is None:
            return
        if event.type == "DELETED":
            self._deleting.pop(event.obj["metadata"].get("uid", ""), None)
        else:
            self._track(event.rt, event.obj)
        # A dependent changed or went: its owners being finalized may be done.
        for obj in (event.obj, event.prev):
            for ref in (obj or {}).get("metadata", {}).get("ownerReferences") or []:
                owner = self._deleting.get(str(ref.get("uid")))
                if owner is not None:
                    self._queue[owner] = None
                    self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                ref = next(iter(self._queue))
                del self._queue[ref]
                try:
                    await self._process(ref)
                except ApiError as exc:
                    log.debug("garbage collection of %s: %s", ref, exc.message)
                    self._queue[ref] = None
                    await asyncio.sleep(0.05)

    async def _process(self, ref: ObjRef) -> None:
        rt = BY_KEY[ref[0]]
        entry = self.store.get(rt, ref[1], ref[2])
        if entry is None:
            return
        owner = entry.obj
        finalizers = owner["metadata"].get("finalizers") or []
        uid = owner["metadata"]["uid"]
        dependents = [
            (BY_KEY[key], ns, name) for key, ns, name in list(self.store.dependents.get(uid, ()))
        ]
        if ORPHAN in finalizers:
            for dep_rt, ns, name in dependents:
                await self._drop_reference(dep_rt, ns, name, uid)
            await self._remove_finalizer(rt, owner, ORPHAN)
            return
        if FOREGROUND not in finalizers:
            return
        blocking = False
        for dep_rt, ns, name in dependents:
            dep = self.store.get(dep_rt, ns, name)
            if dep is None:
                continue
            meta = dep.obj["metadata"]
            if any(
                r.get("uid") == uid and r.get("blockOwnerDeletion")
                for r in meta.get("ownerReferences") or []
            ):
                blocking = True
            if not meta.get("deletionTimestamp"):
                from kubelet_core._controlplane.registry import DeleteOptions

                policy = "Foreground" if self.store.dependents.get(meta["uid"]) else "Background"
                with contextlib.suppress(ApiError):
                    await self.registry.delete(
                        dep_rt, ns, name, DeleteOptions({"propagationPolicy": policy})
                    )
        if not blocking:
            await self._remove_finalizer(rt, owner, FOREGROUND)

    async def _drop_reference(self, rt: ResourceType, ns: str, name: str, uid: str) -> None:
        entry = self.store.get(rt, ns, name)
        if entry is None:
            return
        obj = entry.obj
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        meta = dict(obj["metadata"], ownerReferences=refs)
        if not refs:
            del meta["ownerReferences"]
        await self.registry.update(rt, ns, name, dict(obj, metadata=meta))

    async def _remove_finalizer(self, rt: ResourceType, obj: KubeObject, finalizer: str) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != finalizer]
        new_meta = dict(meta, finalizers=rest)
        if not rest:
            del new_meta["finalizers"]
        await self.registry.update(
            rt, meta.get("namespace") or "", meta["name"], dict(obj, metadata=new_meta)
        )
