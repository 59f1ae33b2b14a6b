"""The event recorder handed to providers: core v1 Events, aggregated and rate-limited.

Recording must never hurt the caller, so ``__call__`` only checks a
per-object token bucket (kubelet's spam filter: a burst of 25, then one per
5 minutes per object; the excess is dropped and counted) and puts the event
on a bounded queue; it never raises and never waits, from any thread.  One
sender task writes them.  Like kubelet's correlator, a repeat of the same
type+reason+message on the same object is not a new Event: the existing one
gets ``count`` + 1 and a new ``lastTimestamp`` (a merge patch), which keeps
a crash-looping pod from flooding the namespace.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import structlog

from kubelet_core._apiclient import ApiError, KubeApi, event_path
from kubelet_core._apiclient.objects import meta
from kubelet_core._apiclient.ratelimit import TokenBucket
from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods.loopbound import LoopBound
from kubelet_core._provider.base import EventType, KubeObject

log = structlog.get_logger(__name__)

COMPONENT = "wasmlet"
_AGGREGATE_CACHE = 4096
_BUCKETS_MAX = 4096


def involved_object(obj: KubeObject, field_path: str | None = None) -> KubeObject:
    metadata = meta(obj)
    kind = obj.get("kind") or "Pod"
    involved: KubeObject = {
        "kind": kind,
        "apiVersion": obj.get("apiVersion") or "v1",
        "name": metadata.get("name") or "",
    }
    if kind != "Node":
        involved["namespace"] = metadata.get("namespace") or "default"
    for source, target in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
        if metadata.get(source):
            involved[target] = metadata[source]
    if field_path:
        involved["fieldPath"] = field_path
    return involved


class KubeEventRecorder:
    """Implements the provider contract's ``EventRecorder`` (see the module docstring)."""

    def __init__(
        self,
        api: KubeApi,
        *,
        node_name: str,
        metrics: AgentMetrics,
        burst: int = 25,
        refill_per_second: float = 1 / 300,
        queue_size: int = 1000,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.metrics = metrics
        self._burst = burst
        self._refill = refill_per_second
        self._buckets: dict[str, TokenBucket] = {}
        self._queue: asyncio.Queue[tuple[KubeObject, str, str, str, str]] = asyncio.Queue(
            queue_size
        )
        self._sent: collections.OrderedDict[tuple[Any, ...], tuple[str, str, int]] = (
            collections.OrderedDict()
        )
        self._loop = LoopBound()
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0

    def __call__(
        self,
        pod: KubeObject,
        event_type: EventType,
        reason: str,
        message: str,
        *,
        field_path: str | None = None,
    ) -> None:
        """Record an event about ``pod`` (or any object: a Node works too)."""
        try:
            self._loop.call(self._record, pod, event_type, reason, message, field_path)
        except Exception:  # recording never raises
            log.debug("event dropped", reason=reason, exc_info=True)

    def _record(
        self, obj: KubeObject, event_type: str, reason: str, message: str, field_path: str | None
    ) -> None:
        try:
            involved = involved_object(obj, field_path)
            object_key = involved.get("uid") or (
                f"{involved['kind']}/{involved.get('namespace', '')}/{involved['name']}"
            )
            bucket = self._buckets.get(object_key)
            if bucket is None:
                if len(self._buckets) >= _BUCKETS_MAX:
                    self._buckets = {k: b for k, b in self._buckets.items() if not b.full}
                bucket = self._buckets[object_key] = TokenBucket(self._refill, self._burst)
            if not bucket.try_acquire():
                self.metrics.event_dropped("rate_limited")
                return
            self._queue.put_nowait((involved, event_type, reason, str(message)[:1024], rfc3339()))
        except asyncio.QueueFull:
            self.metrics.event_dropped("queue_full")
        except Exception:  # recording never raises
            log.debug("event dropped", reason=reason, exc_info=True)

    # -- sending -------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-recorder")

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued event was sent (True) or ``timeout`` passes (False)."""
        if self._task is None:
            return self._queue.empty()
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                for attempt in range(3):
                    try:
                        await self._send(*item)
                        self.recorded += 1
                        break
                    except ApiError as error:
                        if not error.retryable or attempt == 2:
                            self.metrics.event_dropped("api_error")
                            log.debug("event not written", reason=item[2], error=str(error))
                            break
                        await asyncio.sleep(0.5 * (attempt + 1))
            except Exception:  # the sender must survive anything
                log.exception("event sender crashed on one event")
            finally:
                self._queue.task_done()

    async def _send(
        self, involved: KubeObject, event_type: str, reason: str, message: str, now: str
    ) -> None:
        namespace = involved.get("namespace") or "default"
        aggregate = (
            involved.get("uid") or involved["name"],
            involved["kind"],
            namespace,
            involved.get("fieldPath"),
            event_type,
            reason,
            message,
        )
        previous = self._sent.get(aggregate)
        if previous is not None:
            name, first, count = previous
            try:
                await self.api.patch(
                    event_path(namespace, name), {"count": count + 1, "lastTimestamp": now}
                )
                self._remember(aggregate, (name, first, count + 1))
                return
            except ApiError as error:
                if error.status != 404:
                    raise
        name = f"{involved['name'] or 'object'}.{time.time_ns():x}"
        event: KubeObject = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT, "host": self.node_name},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": COMPONENT,
            "reportingInstance": self.node_name,
        }
        await self.api.create(event_path(namespace), event)
        self._remember(aggregate, (name, now, 1))

    def _remember(self, key: tuple[Any, ...], value: tuple[str, str, int]) -> None:
        self._sent[key] = value
        self._sent.move_to_end(key)
        while len(self._sent) > _AGGREGATE_CACHE:
            self._sent.popitem(last=False)
