"""List, then watch, one collection: the one reflector of the node (client-go's semantics).

The pod watcher (every pod bound to the node) and the ConfigMap/Secret
watches (one object each) keep their caches in step with the API server
through this loop:

* **list** the collection (with the owner's selector) and hand the items to
  the owner as a whole (``replaced``), remembering the list's
  resourceVersion;
* **watch** from that resourceVersion with ``allowWatchBookmarks=true``
  and hand each ADDED/MODIFIED/DELETED to the owner (``event``);
* every event *and every bookmark* advances the remembered resourceVersion,
  so a watch that ends (the server's ``timeoutSeconds``, a dropped
  connection) **resumes** from there: nothing is relisted, nothing missed;
* **410 Gone** -- the version left the server's history ("too old resource
  version"), answered as the watch's HTTP status or as an ``ERROR`` event --
  means **relist**: what happened meanwhile is only knowable by listing;
* while the API server is unreachable, attempts are paced by the one
  :class:`~kubelet_core._apiclient.backoff.Backoff` (jittered), reset once a
  watch is accepted.  A stream the server ends at once is paced too.

The reflector only reports; the owner decides what a change means.  It
runs until cancelled.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import structlog

from kubelet_core._apiclient.backoff import Backoff
from kubelet_core._apiclient.client import KubeApi, KubeObject, watch_error
from kubelet_core._apiclient.errors import ApiError
from kubelet_core._apiclient.objects import resource_version

log = structlog.get_logger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
#: Why a watch ended, for metrics: the server closed it, 410 Gone, or an error.
RestartCause = Literal["closed", "expired", "error"]

#: A watch stream ending sooner than this after it opened is paced by the backoff.
_SHORT_STREAM = 1.0
#: Up to this much is added to each watch's ``timeoutSeconds`` (client-go spreads them too).
_TIMEOUT_SPREAD = 60


class ReflectorOwner(Protocol):
    """What the reflector reports to: a whole list, then one change at a time."""

    def replaced(self, items: list[KubeObject]) -> None:
        """The collection is exactly ``items`` now (the first list, or a relist)."""

    def event(self, kind: EventType, obj: KubeObject) -> None:
        """One change seen by the watch."""


class Reflector:
    """List-and-watch of ``path`` (with ``selector`` params) for ``owner``; :meth:`run` it."""

    def __init__(
        self,
        api: KubeApi,
        path: str,
        owner: ReflectorOwner,
        *,
        selector: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        watch_timeout_seconds: int = 300,
        on_open: Callable[[], None] | None = None,
        on_restart: Callable[[RestartCause], None] | None = None,
        describe: Mapping[str, Any] | None = None,
    ) -> None:
        self.api = api
        self.path = path
        self.owner = owner
        self.selector = dict(selector or {})
        self.backoff = backoff if backoff is not None else Backoff(0.2, 30.0)
        self.watch_timeout_seconds = watch_timeout_seconds
        self.on_open = on_open
        self.on_restart = on_restart
        #: Log fields naming what is watched (never object contents).
        self.describe = dict(describe or {"path": path})
        #: The last resourceVersion seen: the list's, then every event's and bookmark's.
        self.resource_version = ""
        #: How many lists were made (the first one included).
        self.lists = 0
        #: How many watches the server accepted.
        self.watches = 0

    async def list(self) -> list[KubeObject]:
        """List the collection and remember its resourceVersion; the owner is not told."""
        answer = await self.api.get(self.path, params=self.selector or None)
        self.resource_version = resource_version(answer)
        self.lists += 1
        return [item for item in answer.get("items") or [] if isinstance(item, dict)]

    async def run(self, *, listed: bool = False) -> None:
        """List (unless ``listed``: the caller did, through :meth:`list`), then watch forever."""
        need_list = not listed
        while True:
            try:
                if need_list:
                    self.owner.replaced(await self.list())
                    need_list = False
                opened_at = time.monotonic()
                await self._watch_once()
                self._restarted("closed")
                if time.monotonic() - opened_at < _SHORT_STREAM:
                    await asyncio.sleep(self.backoff.next())  # a server ending streams at once
            except ApiError as error:
                if error.status == 410:
                    log.info("watch expired, relisting", **self.describe)
                    self._restarted("expired")
                    need_list = True
                    continue
                delay = self.backoff.next()
                self._restarted("error")
                log.warning(
                    "watch failed, resuming",
                    **self.describe,
                    error=str(error),
                    retry_in=round(delay, 2),
                )
                await asyncio.sleep(delay)
            except Exception:  # the watch must outlive bad data (or a failing owner)
                delay = self.backoff.next()
                log.exception("watch crashed, relisting", **self.describe)
                self._restarted("error")
                need_list = True
                await asyncio.sleep(delay)

    async def _watch_once(self) -> None:
        params: dict[str, Any] = {
            **self.selector,
            "resourceVersion": self.resource_version or None,
            "allowWatchBookmarks": True,
            "timeoutSeconds": self.watch_timeout_seconds + random.randint(0, _TIMEOUT_SPREAD),
        }
        async for event in self.api.watch(self.path, params=params, on_open=self._opened):
            self.handle(event)

    def handle(self, event: KubeObject) -> None:
        """One raw watch event: raise the error it carries, note its version, tell the owner."""
        error = watch_error(event)
        if error is not None:
            raise error
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        version = resource_version(obj)
        if version:
            self.resource_version = version
        kind = event.get("type")
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.owner.event(kind, obj)

    def _opened(self) -> None:
        self.watches += 1
        self.backoff.reset()
        if self.on_open is not None:
            self.on_open()

    def _restarted(self, cause: RestartCause) -> None:
        if self.on_restart is not None:
            self.on_restart(cause)
