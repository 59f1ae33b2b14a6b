"""Reconcile one pod: what the API says it should be against what the provider runs.

Called by the pod's worker (so never concurrently for one pod) with the
latest cached pod.  The rules, kubelet's and Virtual Kubelet's:

* a new pod is first admitted (:mod:`kubelet_core._pods.admission`: does it
  fit what the node has left?); one that does not fit is failed with
  kubelet's ``OutOf<resource>`` reason, a Warning event, and never reaches
  the provider; one that fits goes to ``provider.create_pod``.  A pod in a
  terminal phase that the provider does not hold is left alone (it already
  ran, maybe on a previous incarnation of this agent); an admitted pod stops
  counting against the node once it is terminal, stopped after deletion, or
  gone;
* a changed spec/labels/annotations goes to ``provider.update_pod``;
* ``deletionTimestamp`` set: ``provider.delete_pod(pod, grace)`` with the
  pod's deletionGracePeriodSeconds (terminationGracePeriodSeconds as a
  fallback), then the API object is removed with gracePeriodSeconds=0 and a
  UID precondition, so a namesake created meanwhile is never hit;
* the pod vanished from the API (forced deletion, or found missing at a
  relist): the provider drops it;
* provider failures never escape: ``InvalidPodSpec`` (and unretryable pull
  errors) fail the pod with the error's reason and a Warning event; other
  errors leave it Pending with the reason, a Warning event, and a retry with
  backoff (1 s doubling to 5 min); a malformed pod object is failed with
  reason ``MalformedPod`` without ever reaching the provider.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, pod_path
from kubelet_core._pods import podutil
from kubelet_core._pods.admission import PodAdmission
from kubelet_core._pods.status import PodStatusWriter
from kubelet_core._pods.workers import ItemKind, PodWorkers
from kubelet_core._provider.base import EventRecorder, KubeObject, PodKey, Provider
from kubelet_core._provider.errors import ImagePullError, InvalidPodSpec, ProviderError

log = structlog.get_logger(__name__)

#: How much longer than the grace period a provider may take to delete a pod.
DELETE_SLACK_SECONDS = 15.0


@dataclasses.dataclass
class Tracked:
    """What the agent knows about a pod it has handed (or tried to hand) to the provider."""

    uid: str
    pod: KubeObject
    fingerprint: str = ""
    in_provider: bool = False
    admitted: bool = False  # admission said yes (once per uid; creation may still be retried)
    deleted: bool = False
    failed: bool = False  # permanently: do not try again for this uid
    retry_at: float = 0.0  # monotonic time before which a failed create is not retried
    backoff: Backoff = dataclasses.field(default_factory=lambda: Backoff(1.0, 300.0, jitter=0.2))


class PodSyncer:
    def __init__(
        self,
        provider: Provider,
        api: KubeApi,
        *,
        statuses: PodStatusWriter,
        record_event: EventRecorder,
        lookup: Callable[[str], KubeObject | None],
        admission: PodAdmission,
    ) -> None:
        self.provider = provider
        self.api = api
        self.statuses = statuses
        self.record_event = record_event
        self.lookup = lookup
        self.admission = admission
        self.tracked: dict[str, Tracked] = {}
        self.workers = PodWorkers(self.handle)

    # -- entry points --------------------------------------------------------

    def changed(self, pod: KubeObject) -> None:
        self.statuses.observe(pod)
        self.workers.submit(podutil.pod_key(pod), "changed", pod)

    def gone(self, pod: KubeObject) -> None:
        self.workers.submit(podutil.pod_key(pod), "gone", pod)

    def adopt(self, pod: KubeObject) -> None:
        """The provider already runs ``pod`` (found at start): do not create it again."""
        self.tracked[podutil.pod_key(pod)] = Tracked(
            uid=podutil.pod_uid(pod),
            pod=pod,
            fingerprint=podutil.spec_fingerprint(pod),
            in_provider=True,
            admitted=True,
        )
        if not podutil.is_terminal(pod):
            self.admission.hold(pod)  # it runs already: it counts, whatever it asks

    async def handle(self, key: str, kind: ItemKind, pod: KubeObject | None) -> None:
        if kind == "gone":
            if pod is not None:
                await self._gone(key, pod)
            return
        current = self.lookup(key)
        if current is not None:
            await self._sync(key, current)

    # -- reconciling ---------------------------------------------------------

    async def _sync(self, key: str, pod: KubeObject) -> None:
        problem = podutil.malformed_reason(pod)
        uid = podutil.pod_uid(pod)
        tracked = self.tracked.get(key)
        if tracked is not None and tracked.uid != uid:
            await self._gone(key, tracked.pod)
            tracked = None
        if podutil.is_deleting(pod):
            await self._delete(key, pod, tracked)
            return
        if problem is not None:
            if tracked is None and uid and not podutil.is_terminal(pod):
                self.tracked[key] = Tracked(uid=uid, pod=pod, failed=True)
                self._fail(pod, "MalformedPod", f"the pod cannot run: {problem}")
            return
        if tracked is None:
            if podutil.is_terminal(pod):
                return
            tracked = self.tracked[key] = Tracked(uid=uid, pod=pod)
        if podutil.is_terminal(pod):
            self.admission.release(uid)  # finished: what it requested is free again
        if tracked.failed or tracked.deleted:
            return
        if not tracked.in_provider:
            if not tracked.admitted and not podutil.is_terminal(pod):
                # Synchronous, before any await: pods are admitted in the order
                # their workers start, the order the node learned of them.
                rejection = self.admission.admit(pod)
                if rejection is not None:
                    tracked.failed = True
                    self._fail(pod, rejection.reason, rejection.status_message, rejection.message)
                    return
                tracked.admitted = True
            if time.monotonic() + 0.05 < tracked.retry_at:
                return  # backing off; the scheduled retry comes back
            await self._create(key, pod, tracked)
            return
        fingerprint = podutil.spec_fingerprint(pod)
        if fingerprint != tracked.fingerprint:
            try:
                await self.provider.update_pod(pod)
                tracked.fingerprint = fingerprint
                tracked.pod = pod
            except Exception as error:  # reported, retried
                self._report_error(pod, error, "FailedUpdate")
                self.workers.submit_later(key, tracked.backoff.next())

    async def _create(self, key: str, pod: KubeObject, tracked: Tracked) -> None:
        try:
            await self.provider.create_pod(pod)
        except (InvalidPodSpec, ImagePullError) as error:
            if isinstance(error, ImagePullError) and error.retryable:
                self._pending(key, pod, tracked, error)
            else:
                tracked.failed = True
                self._fail(pod, error.reason, error.message)
            return
        except ProviderError as error:
            restart = (pod.get("spec") or {}).get("restartPolicy")
            if restart == "Never":
                tracked.failed = True
                self._fail(pod, error.reason, error.message)
            else:
                self._pending(key, pod, tracked, error)
            return
        except Exception as error:  # a provider bug must not kill the agent
            log.exception("provider.create_pod crashed", pod=key)
            self._pending(key, pod, tracked, error)
            return
        tracked.in_provider = True
        tracked.pod = pod
        tracked.fingerprint = podutil.spec_fingerprint(pod)
        tracked.backoff.reset()
        log.info("pod created in provider", pod=key)
        try:
            status = await self.provider.get_pod_status(pod)
        except Exception:  # the provider will push its status anyway
            log.debug("provider.get_pod_status failed", pod=key, exc_info=True)
            status = None
        if status:
            self.statuses.notify(pod, status)

    async def _delete(self, key: str, pod: KubeObject, tracked: Tracked | None) -> None:
        if tracked is None:
            tracked = self.tracked[key] = Tracked(uid=podutil.pod_uid(pod), pod=pod)
        if not tracked.deleted:
            grace = podutil.grace_period(pod)
            try:
                async with asyncio.timeout(grace + DELETE_SLACK_SECONDS):
                    await self.provider.delete_pod(pod, grace)
            except TimeoutError:
                log.warning("provider.delete_pod overran the grace period", pod=key, grace=grace)
            except Exception as error:  # reported; the API delete goes on
                self._report_error(pod, error, "FailedKillPod")
            tracked.deleted = True
            tracked.in_provider = False
            self.admission.release(tracked.uid)
            # Let the final status (terminated containers) reach the API first.
            await self.statuses.flush(min(2.0, max(grace, 0.5)))
        namespace, _, name = key.partition("/")
        try:
            await self.api.delete(
                pod_path(namespace, name), grace_period_seconds=0, uid=tracked.uid or None
            )
        except ApiError as error:
            if error.status in (404, 409):
                return  # gone already, or a namesake with another UID
            log.warning("pod deletion failed, will retry", pod=key, error=str(error))
            self.workers.submit_later(key, tracked.backoff.next())

    async def _gone(self, key: str, pod: KubeObject) -> None:
        tracked = self.tracked.get(key)
        if tracked is not None and tracked.uid and podutil.pod_uid(pod) not in ("", tracked.uid):
            return  # an old namesake's deletion; the current pod is unaffected
        self.tracked.pop(key, None)
        self.admission.release(tracked.uid if tracked is not None else podutil.pod_uid(pod))
        if tracked is None or not tracked.deleted:
            # Also for a pod never handed to the provider (it had finished before
            # the agent restarted): delete_pod of an unknown pod is a no-op that
            # still removes what the provider kept on disk (logs, volumes).
            held = tracked.pod if tracked is not None and tracked.in_provider else pod
            grace = podutil.grace_period(pod) if podutil.is_deleting(pod) else 0.0
            try:
                async with asyncio.timeout(grace + DELETE_SLACK_SECONDS):
                    await self.provider.delete_pod(held, grace)
            except Exception:  # the pod is gone from the API either way
                log.exception("provider.delete_pod failed for a vanished pod", pod=key)
        self.statuses.forget(key)
        log.info("pod gone", pod=key)

    async def delete_dangling(self, known: dict[str, KubeObject]) -> int:
        """Drop provider pods the API no longer has; adopt the rest.  Returns how many went."""
        try:
            held = await self.provider.list_pods()
        except Exception:  # cleanup is best effort
            log.exception("provider.list_pods failed; skipping dangling pod cleanup")
            return 0
        dangling: list[PodKey] = []
        for item in held:
            pod = known.get(f"{item.namespace}/{item.name}")
            if pod is None or (item.uid and podutil.pod_uid(pod) != item.uid):
                dangling.append(item)
            else:
                self.adopt(pod)

        async def drop(item: PodKey) -> None:
            stub: KubeObject = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"namespace": item.namespace, "name": item.name, "uid": item.uid},
                "spec": {},
            }
            try:
                async with asyncio.timeout(DELETE_SLACK_SECONDS):
                    await self.provider.delete_pod(stub, 0.0)
            except Exception:  # best effort
                log.exception("could not delete dangling pod", pod=str(item))

        await asyncio.gather(*(drop(item) for item in dangling))
        if dangling:
            log.info("deleted dangling pods", count=len(dangling))
        return len(dangling)

    # -- reporting -----------------------------------------------------------

    def _fail(
        self, pod: KubeObject, reason: str, message: str, event_message: str | None = None
    ) -> None:
        """Fail the pod for good (``event_message``: the event's, if it differs)."""
        log.warning("pod failed", pod=podutil.pod_key(pod), reason=reason, message=message)
        self.admission.release(podutil.pod_uid(pod))
        self.statuses.notify(pod, {"phase": "Failed", "reason": reason, "message": message})
        self.record_event(pod, "Warning", reason, event_message or message)

    def _pending(self, key: str, pod: KubeObject, tracked: Tracked, error: BaseException) -> None:
        reason = getattr(error, "reason", "ProviderFailed")
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        delay = tracked.backoff.next()
        tracked.retry_at = time.monotonic() + delay
        log.warning(
            "pod creation failed, will retry",
            pod=key,
            reason=reason,
            message=message,
            retry_in=round(delay, 1),
        )
        self.statuses.notify(pod, {"phase": "Pending", "reason": reason, "message": message})
        self.record_event(pod, "Warning", reason, message)
        self.workers.submit_later(key, delay)

    def _report_error(self, pod: KubeObject, error: BaseException, reason: str) -> None:
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        log.warning(
            "provider call failed", pod=podutil.pod_key(pod), reason=reason, message=message
        )
        self.record_event(pod, "Warning", reason, message)
