"""Writes pod statuses pushed by the provider to the API: coalesced, merged, never lost.

The provider calls :meth:`PodStatusWriter.notify` (never blocks, any thread).
Only the *latest* status per pod is kept; a few writer tasks take pods with a
pending status off a queue and write them to ``pods/{name}/status``.  Why
this shape (VK #762, #744, #899):

* **Coalescing**: a pod flapping through five states while the API is slow
  costs one write, of the newest state.  A writer takes its rate-limit token
  *before* it picks the status to write, so a status that arrives while the
  write waits for the budget replaces the one that was queued (kubelet's
  status manager likewise writes the latest status, not every one).
* **One write per quick start**: the first status of a pod that is still
  Pending and starting normally (no reason; containers ContainerCreating or
  PodInitializing) is held for ``first_pending_hold``
  seconds; a Running (or terminal) status arriving meanwhile replaces it and
  is written at once.  A pod that starts quickly thus costs one status
  write, not a ContainerCreating write that the Running write overtakes
  half a second later -- at kubelet's default budget (50 QPS, burst 100)
  that halves what a batch of starts spends.  In a burst a pod's hold
  begins only once the pods that came before it have started (it is queued
  on the node, not slow), up to ``longest_pending_hold`` in all (see
  :mod:`kubelet_core._pods.holds`).  A slow start (a pull) shows its
  Pending status after the hold; ``flush`` releases every hold.  The pod's
  ``startTime`` is still when the writer first heard of it.
* **Nothing lost**: a write that fails because the API server is away puts
  the status back (unless a newer one arrived) and retries with backoff, so
  after a reconnect every pod's newest status arrives.
* **Merged, not clobbered**: the write starts from the pod as the API last
  showed it (watch cache, or a fresh GET after a 409) and replaces only what
  the node owns -- phase, container statuses, reason/message, host/pod IPs,
  startTime, qosClass and the conditions Initialized / ContainersReady /
  Ready (derived unless the provider set them); PodScheduled and foreign
  conditions stay.  ``lastTransitionTime`` moves only when a condition's
  status flips, so re-merging an unchanged status gives an identical one,
  which is then not written at all.
* **Safe against reuse of names**: the status belongs to a pod UID; a pod
  deleted (404) or replaced by a namesake (other UID) drops it.
* A terminal phase is never left (kubelet's rule): a late "Running" for a
  pod the API shows Succeeded is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, pod_path
from kubelet_core._apiclient.objects import copy_json
from kubelet_core._apiclient.timefmt import parse_time, rfc3339, utcnow
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import podutil
from kubelet_core._pods.holds import FirstStatusHolds
from kubelet_core._pods.loopbound import LoopBound
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

#: Status fields the provider owns; absent from its status means "clear it".
_PROVIDER_FIELDS = (
    "phase",
    "containerStatuses",
    "initContainerStatuses",
    "ephemeralContainerStatuses",
    "reason",
    "message",
)
_DERIVED = ("Initialized", "ContainersReady", "Ready")
#: The send face's own bucket: never the bound (the writers take tokens from the client's).
_UNLIMITED_QPS = 1e9
_UNLIMITED_BURST = 1 << 30


def merge_status(
    pod: KubeObject, provider_status: KubeObject, *, node_ip: str, now: str
) -> KubeObject:
    """The full status to write: the API's status with the node-owned parts replaced."""
    raw = pod.get("status")
    current: KubeObject = raw if isinstance(raw, dict) else {}
    merged: KubeObject = copy_json(current)
    for field in _PROVIDER_FIELDS:
        if field in provider_status:
            merged[field] = copy_json(provider_status[field])
        elif field in ("reason", "message"):
            merged.pop(field, None)
    merged.setdefault("phase", "Pending")
    host_ip = provider_status.get("hostIP") or node_ip
    pod_ip = provider_status.get("podIP") or node_ip
    merged["hostIP"] = host_ip
    merged["hostIPs"] = [{"ip": host_ip}]
    merged["podIP"] = pod_ip
    merged["podIPs"] = provider_status.get("podIPs") or [{"ip": pod_ip}]
    merged["startTime"] = current.get("startTime") or provider_status.get("startTime") or now
    merged["qosClass"] = podutil.qos_class(pod)

    given = [c for c in provider_status.get("conditions") or [] if isinstance(c, dict)]
    given_types = {c.get("type") for c in given}
    wanted = given + [
        c for c in podutil.derived_conditions(pod, merged) if c["type"] not in given_types
    ]
    existing = [c for c in current.get("conditions") or [] if isinstance(c, dict)]
    if (
        not any(c.get("type") == "PodScheduled" for c in existing)
        and "PodScheduled" not in given_types
    ):
        wanted.append({"type": "PodScheduled", "status": "True"})
    merged["conditions"] = _merge_conditions(existing, wanted, now)
    return merged


def _merge_conditions(
    existing: list[KubeObject], wanted: list[KubeObject], now: str
) -> list[KubeObject]:
    by_type = {c.get("type"): c for c in existing}
    result: list[KubeObject] = []
    wanted_by_type = {c.get("type"): c for c in wanted}
    for condition in existing:
        kind = condition.get("type")
        result.append(
            _stamp(wanted_by_type.pop(kind), condition, now)
            if kind in wanted_by_type
            else condition
        )
    for kind, condition in wanted_by_type.items():
        result.append(_stamp(condition, by_type.get(kind), now))
    return result


def _stamp(condition: KubeObject, previous: KubeObject | None, now: str) -> KubeObject:
    stamped = dict(condition)
    stamped.setdefault("lastProbeTime", None)
    if "lastTransitionTime" not in condition:
        same = previous is not None and previous.get("status") == condition.get("status")
        stamped["lastTransitionTime"] = (previous or {}).get("lastTransitionTime") if same else now
        if stamped["lastTransitionTime"] is None:
            stamped["lastTransitionTime"] = now
    return stamped


#: Waiting reasons of a container that is simply on its way to running.
_STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


def _containers_of(status: KubeObject) -> list[KubeObject]:
    found: list[KubeObject] = []
    for field in ("initContainerStatuses", "containerStatuses"):
        found += [c for c in status.get(field) or [] if isinstance(c, dict)]
    return found


def _starting(container: KubeObject) -> bool:
    state = container.get("state")
    if not isinstance(state, dict) or not state:
        return True
    waiting = state.get("waiting")
    if isinstance(waiting, dict):
        return waiting.get("reason", "ContainerCreating") in _STARTING_REASONS
    return "running" in state  # an init container running; a terminated one is news


def _newer(candidate: KubeObject, known: KubeObject | None) -> bool:
    if known is None:
        return True
    new_rv = podutil.meta(candidate).get("resourceVersion")
    old_rv = podutil.meta(known).get("resourceVersion")
    try:
        return int(str(new_rv)) >= int(str(old_rv))
    except ValueError:
        return True


class PodStatusWriter:
    """Coalescing, retrying writer of pod statuses (see the module docstring)."""

    def __init__(
        self,
        api: KubeApi,
        *,
        node_ip: str,
        metrics: AgentMetrics,
        writers: int = 4,
        lookup: Callable[[str], KubeObject | None] | None = None,
        first_pending_hold: float = 1.0,
        longest_pending_hold: float = 30.0,
    ) -> None:
        self.api = api
        # The writers spend ``api``'s budget themselves (see _run) and send
        # through a face of the same client that does not wait a second time.
        self._limiter = api.limiter
        self._direct = api.with_rate_limit(_UNLIMITED_QPS, _UNLIMITED_BURST)
        self.first_pending_hold = first_pending_hold
        self._held = FirstStatusHolds(first_pending_hold, longest_pending_hold, self._release)
        self._reported_uids: set[str] = set()
        #: When the writer first heard of each pod: its ``startTime`` (kubelet:
        #: when the node acknowledged the pod), even if that status was held.
        self._acknowledged: dict[str, str] = {}
        self.node_ip = node_ip
        self.metrics = metrics
        self._writers = writers
        self._lookup = lookup
        self._pending: dict[str, tuple[KubeObject, KubeObject]] = {}
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._seen: dict[str, KubeObject] = {}
        self._started_uids: set[str] = set()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop = LoopBound()
        self._tasks: list[asyncio.Task[None]] = []
        self.backoff = Backoff(0.2, 10.0, jitter=0.2)
        self.writes = 0
        self._reachable = asyncio.Event()

    # -- feeding -------------------------------------------------------------

    def notify(self, pod: KubeObject, status: KubeObject) -> None:
        """The provider's :class:`StatusNotifier`: remember the newest status, wake a writer."""
        self._loop.call(self._notify, pod, status)

    def _notify(self, pod: KubeObject, status: KubeObject) -> None:
        if not isinstance(pod, dict) or not isinstance(status, dict):
            log.warning("ignoring a malformed status notification")
            return
        key = podutil.pod_key(pod)
        self._pending[key] = (pod, copy_json(status))
        self._idle.clear()
        uid = podutil.pod_uid(pod)
        if uid not in self._acknowledged:
            self._acknowledged[uid] = rfc3339()
        if self._holds(pod, status):
            if key not in self._held and key not in self._queued and key not in self._busy:
                self._held.start(key)
            return
        self._held.drop(key)
        self._enqueue(key)

    def _holds(self, pod: KubeObject, status: KubeObject) -> bool:
        """True for the first status of a pod still starting normally (see the module doc).

        A status with a reason (a failed create, ErrImagePull, ...) is news
        the user waits for: it is written at once.
        """
        return (
            self.first_pending_hold > 0
            and status.get("phase", "Pending") == "Pending"
            and "reason" not in status
            and all(_starting(c) for c in _containers_of(status))
            and podutil.pod_uid(pod) not in self._reported_uids
        )

    def _release(self, key: str) -> None:
        """The hold of ``key`` is over (or cut short): queue its status."""
        self._held.drop(key)
        if key in self._pending:
            self._enqueue(key)
        self._check_idle()

    def _enqueue(self, key: str) -> None:
        if key not in self._queued and key not in self._busy and key not in self._held:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def observe(self, pod: KubeObject) -> None:
        """The watch saw ``pod``: keep it as the base of the next write if it is newer."""
        key = podutil.pod_key(pod)
        if _newer(pod, self._seen.get(key)):
            self._seen[key] = pod

    def forget(self, key: str) -> None:
        """The pod is gone: drop everything pending for it."""
        self._pending.pop(key, None)
        self._held.drop(key)
        seen = self._seen.pop(key, None)
        if seen is not None:
            self._started_uids.discard(podutil.pod_uid(seen))
            self._reported_uids.discard(podutil.pod_uid(seen))
            self._acknowledged.pop(podutil.pod_uid(seen), None)
        self.metrics.set_pod_phase(key, None)
        self._check_idle()

    def pending(self) -> int:
        return len(self._pending)

    def api_reachable(self) -> None:
        """The API server answers again (a watch reopened): retry deferred writes now."""
        self.backoff.reset()
        self._reachable.set()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for index in range(self._writers):
            self._tasks.append(asyncio.create_task(self._run(), name=f"pod-status-writer-{index}"))

    async def flush(self, timeout: float) -> bool:
        """Wait until nothing is pending (True) or ``timeout`` passes (False).

        Held first statuses are released at once: whoever flushes (a pod's
        deletion, the agent stopping) wants them in the API now.
        """
        for key in self._held.snapshot():
            self._release(key)
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        self._held.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- writing -------------------------------------------------------------

    def _check_idle(self) -> None:
        if not self._pending and not self._busy:
            self._idle.set()

    async def _run(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            if key not in self._pending:
                self._check_idle()
                continue
            self._busy.add(key)
            retry_after = 0.0
            entry: tuple[KubeObject, KubeObject] | None = None
            try:
                # The token first, then the newest status: what arrived while
                # the write waited for the budget is what gets written.
                await self._limiter.acquire()
                entry = self._pending.pop(key, None)
                if entry is not None:
                    await self._write(key, *entry)
                self.backoff.reset()
            except ApiError as error:
                if error.retryable and entry is not None:
                    self._pending.setdefault(key, entry)  # keep it unless a newer one came
                    retry_after = self.backoff.next()
                    log.info(
                        "pod status write deferred",
                        pod=key,
                        error=str(error),
                        retry_in=round(retry_after, 2),
                    )
                else:
                    log.warning("pod status write rejected", pod=key, error=str(error))
            except Exception:  # one bad status must not stop the writer
                log.exception("pod status write crashed", pod=key)
            finally:
                self._busy.discard(key)
            if key in self._pending:
                if retry_after:
                    self._reachable.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(retry_after):
                            await self._reachable.wait()
                # Never queue a key another writer holds: two writes of one pod
                # in flight could land out of order.  That writer requeues it.
                if key in self._pending:
                    self._enqueue(key)
            self._check_idle()

    async def _base(self, key: str, uid: str, *, fresh: bool) -> KubeObject | None:
        """The pod to merge into: cached unless ``fresh``; None if it is gone or replaced.

        A cached copy with another UID may just be stale (a namesake replaced
        it and the watch has not caught up), so only a fresh read decides.
        """
        if not fresh:
            pod = self._seen.get(key)
            if pod is None and self._lookup is not None:
                pod = self._lookup(key)
            if pod is not None and (not uid or podutil.pod_uid(pod) == uid):
                return pod
        namespace, _, name = key.partition("/")
        try:
            await self._limiter.acquire()
            pod = await self._direct.get(pod_path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        self.observe(pod)
        return pod if not uid or podutil.pod_uid(pod) == uid else None

    async def _write(self, key: str, notified: KubeObject, status: KubeObject) -> None:
        uid = podutil.pod_uid(notified)
        namespace, _, name = key.partition("/")
        acknowledged = self._acknowledged.get(uid)
        if acknowledged is not None and "startTime" not in status:
            status = {**status, "startTime": acknowledged}
        fresh = False
        for attempt in range(5):
            pod = await self._base(key, uid, fresh=fresh)
            if pod is None:
                log.debug("pod gone, dropping its status", pod=key)
                return
            if podutil.is_terminal(pod) and status.get("phase") not in podutil.TERMINAL_PHASES:
                log.debug("pod already terminal, dropping non-terminal status", pod=key)
                return
            merged = merge_status(pod, status, node_ip=self.node_ip, now=rfc3339())
            if merged == pod.get("status"):
                self._record(key, pod, merged)
                return
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": pod.get("metadata"),
                "spec": pod.get("spec"),
                "status": merged,
            }
            try:
                if attempt:  # the first attempt spends the token _run took
                    await self._limiter.acquire()
                written = await self._direct.update_status(pod_path(namespace, name), body)
            except ApiError as error:
                if error.status == 404:
                    return
                if error.status == 409:
                    fresh = True
                    continue
                raise
            self.writes += 1
            self.observe(written)
            self._record(key, written, merged)
            return
        raise ApiError(409, "Conflict", f"status of {key} kept conflicting")

    def _record(self, key: str, pod: KubeObject, status: KubeObject) -> None:
        phase = str(status.get("phase") or "Pending")
        if key in self._seen:
            self.metrics.set_pod_phase(key, phase)
        uid = podutil.pod_uid(pod)
        self._reported_uids.add(uid)
        if phase == "Running" and uid not in self._started_uids:
            self._started_uids.add(uid)
            created = parse_time(podutil.meta(pod).get("creationTimestamp"))
            if created is not None:
                self.metrics.pod_start_seconds.observe(
                    max(0.0, (utcnow() - created).total_seconds())
                )
