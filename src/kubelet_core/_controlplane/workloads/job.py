"""The Job controller: run pods until ``completions`` succeed, or give up.

As kube's job controller (batch/v1, 1.33): at most ``parallelism`` pods are active, and
no more than the completions still missing. With ``completionMode: Indexed`` every pod
carries a completion index (annotation and label ``batch.kubernetes.io/job-completion-index``,
``JOB_COMPLETION_INDEX`` through the downward API, hostname ``<job>-<index>``, name
``<job>-<index>-<random>``); one succeeded pod per index counts, the succeeded indexes are
kept in ``status.completedIndexes``, and the lowest missing indexes are started first.

A failed pod counts against ``backoffLimit`` unless the first matching
``podFailurePolicy`` rule says ``Ignore``; ``FailJob`` fails the Job at once (reason
``PodFailurePolicy``). With ``backoffLimitPerIndex`` each index has its own limit (the
failures so far ride on the replacement pod's ``job-index-failure-count`` annotation);
an index past it, or hit by a ``FailIndex`` rule, goes to ``status.failedIndexes`` and is
not retried, and ``maxFailedIndexes`` bounds how many may fail. After a failure new pods
wait an exponential backoff (10 s doubling, capped at 6 min) on the clock, per index when
indexes have their own limit. ``activeDeadlineSeconds`` fails the Job
(``DeadlineExceeded``).

Finishing takes two steps, as since 1.31: the interim ``FailureTarget`` (or
``SuccessCriteriaMet``: completions reached, or a ``successPolicy`` rule met) condition
is written and the remaining pods deleted; ``Failed`` (or ``Complete`` with
``completionTime``) follows, with the same reason and message, once none of them is
still terminating. A suspended Job has no active pods and no ``startTime``; resuming
starts the deadline anew. With ``podReplacementPolicy: Failed`` (the default under a
``podFailurePolicy``) a terminating pod is replaced only once it has failed.

Counts come from the pods that exist (kube's pod-tracking finalizers and
``uncountedTerminatedPods`` bookkeeping are not reproduced), except the index lists,
which are merged with what the status already says so a deleted pod's index stays done.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time, rfc3339
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import JOBS, PODS
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads import job_policies as jp
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    in_batches,
    key_of,
    owner_keys,
    owner_reference,
)
from kubelet_core._controlplane.workloads.podutil import is_active, is_ready
from kubelet_core._controlplane.workloads.replicaset import deletion_rank, pod_from_template

KubeObject = dict[str, Any]
BACKOFF_BASE = 10.0
BACKOFF_CAP = 360.0
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
_MAX_GENERATED_NAME = 58  # 63 minus the 5 random characters generateName appends
_DONE = ("Succeeded", "Failed")


def finished_condition(job: KubeObject) -> KubeObject | None:
    """The Job's True ``Complete`` or ``Failed`` condition: it is finished for good."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return dict(cond)
    return None


def backoff_delay(failures: int) -> float:
    """kube's pod-failure backoff: 10 s, 20 s, 40 s, ... never more than 6 minutes."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_CAP, BACKOFF_BASE * float(2 ** min(failures - 1, 16)))


@dataclass
class _Failures:
    """What the controller remembers of one Job's failures (kube's backoff records)."""

    uid: str
    seen: int = 0  # failed pods seen so far
    last: float = 0.0  # clock time the last new failure was seen
    first_seen: dict[str, float] = field(default_factory=dict)  # failed pod uid -> time


@dataclass
class _View:
    """One reconcile's reading of a Job and its pods."""

    job: KubeObject
    pods: list[KubeObject]
    moment: float

    def __post_init__(self) -> None:
        spec = self.job.get("spec") or {}
        self.spec: KubeObject = spec
        self.indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        self.completions: int | None = None if completions is None else int(completions)
        self.parallelism = int(spec.get("parallelism") or 0)
        self.policy: KubeObject | None = spec.get("podFailurePolicy") or None
        per_index = spec.get("backoffLimitPerIndex")
        self.per_index: int | None = (
            None if per_index is None or not self.indexed else int(per_index)
        )
        self.active = [p for p in self.pods if is_active(p)]
        self.terminating = [p for p in self.pods if _terminating(p)]
        valid = [p for p in self.pods if self.valid_index(p)]
        self.failed_pods = [p for p in valid if _phase(p) == "Failed"]
        self.counted_failed = [
            p for p in self.failed_pods if jp.match_pod_failure_policy(self.policy, p).counts
        ]
        old = self.job.get("status") or {}
        if self.indexed and self.completions is not None:
            done = [jp.completion_index(p) for p in valid if _phase(p) == "Succeeded"]
            self.succeeded_indexes = jp.merge(
                jp.parse_indexes(old.get("completedIndexes"), self.completions),
                jp.of_indexes(i for i in done if i is not None),
            )
            self.succeeded = jp.total(self.succeeded_indexes)
        else:
            self.succeeded_indexes = []
            self.succeeded = sum(1 for p in self.pods if _phase(p) == "Succeeded")
        self.failed_indexes: list[jp.Interval] | None = None
        if self.per_index is not None and self.completions is not None:
            lost = [jp.completion_index(p) for p in self.failed_pods if self.index_failed(p)]
            self.failed_indexes = jp.merge(
                jp.parse_indexes(old.get("failedIndexes"), self.completions),
                jp.of_indexes(i for i in lost if i is not None),
            )

    def valid_index(self, pod: KubeObject) -> bool:
        """Non-indexed pods all count; an indexed one only with an index below completions."""
        if not self.indexed:
            return True
        index = jp.completion_index(pod)
        return index is not None and self.completions is not None and index < self.completions

    def index_failed(self, pod: KubeObject) -> bool:
        """This failed pod used up its index: a FailIndex rule, or the per-index limit."""
        match = jp.match_pod_failure_policy(self.policy, pod)
        if match.action == "FailIndex":
            return True
        counted, _ignored = jp.failure_counts(pod)
        return match.counts and self.per_index is not None and counted >= self.per_index


class JobController(WorkloadController):
    name = "job-controller"
    kind = JOBS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failures: dict[Key, _Failures] = {}

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is JOBS:
            yield key_of(event.obj)
        elif event.rt is PODS:
            yield from owner_keys(event, "Job")

    async def reconcile(self, key: Key) -> None:
        job = self.get(JOBS, key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            self._failures.pop(key, None)
            return
        view = _View(job, self.owned(PODS, job), self.clock.time())
        memory = self._remember_failures(key, view)
        old = job.get("status") or {}
        status: KubeObject = {k: v for k, v in old.items() if k in ("startTime", "completionTime")}
        conditions = [dict(c) for c in old.get("conditions") or []]

        if finished_condition(job) is not None:
            self._failures.pop(key, None)
            await self._delete(job, view.active)
        elif (target := _interim(conditions)) is not None:
            await self._finish(job, view, conditions, status, target)
        elif view.spec.get("suspend"):
            status.pop("startTime", None)
            if _ensure_condition(
                conditions, "Suspended", "True", "JobSuspended", "Job suspended", view.moment
            ):
                self.event(job, "Normal", "Suspended", "Job suspended")
            await self._delete(job, view.active)
        else:
            if _ensure_condition(
                conditions, "Suspended", "False", "JobResumed", "Job resumed", view.moment
            ):
                self.event(job, "Normal", "Resumed", "Job resumed")
                status["startTime"] = rfc3339(view.moment)
            status.setdefault("startTime", rfc3339(view.moment))
            target = self._failure(view, status) or self._success(view)
            if target is not None:
                interim = "FailureTarget" if target[0] == "Failed" else "SuccessCriteriaMet"
                _ensure_condition(conditions, interim, "True", *target[1:], view.moment)
                await self._finish(job, view, conditions, status, target)
            else:
                await self._manage(key, view, memory)
                self._arm_deadline(key, view.spec, status, view.moment)

        self._count(view, status, self.owned(PODS, job))
        if conditions:
            status["conditions"] = conditions
        await self.write_status(JOBS, job, status)

    def _remember_failures(self, key: Key, view: _View) -> _Failures:
        uid = view.job["metadata"]["uid"]
        memory = self._failures.get(key)
        if memory is None or memory.uid != uid:  # a new Job of the same name
            memory = self._failures[key] = _Failures(uid, last=view.moment)
        failed = len(view.failed_pods)
        if failed > memory.seen:
            memory.seen, memory.last = failed, view.moment
        for pod in view.failed_pods:
            memory.first_seen.setdefault(pod["metadata"]["uid"], view.moment)
        return memory

    # -- deciding the end ----------------------------------------------------------------
    def _failure(self, view: _View, status: KubeObject) -> tuple[str, str, str] | None:
        """("Failed", reason, message) when the Job must fail now, in kube's order."""
        for pod in view.pods:
            if _phase(pod) == "Failed":
                message = jp.match_pod_failure_policy(view.policy, pod).fail_job_message
                if message is not None:
                    return "Failed", "PodFailurePolicy", message
        if len(view.counted_failed) > int(view.spec.get("backoffLimit", 6)):
            return "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        deadline = view.spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if (
            deadline is not None
            and started is not None
            and started.timestamp() + int(deadline) <= view.moment
        ):
            return "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
        if view.failed_indexes is not None and view.completions is not None:
            lost = jp.total(view.failed_indexes)
            most = view.spec.get("maxFailedIndexes")
            if most is not None and lost > int(most):
                return (
                    "Failed",
                    "MaxFailedIndexesExceeded",
                    "Job has exceeded the specified maximal number of failed indexes",
                )
            if lost and lost + view.succeeded >= view.completions:
                return "Failed", "FailedIndexes", "Job has failed indexes"
        return None

    def _success(self, view: _View) -> tuple[str, str, str] | None:
        """("Complete", reason, message) when the Job has succeeded."""
        if view.indexed and view.completions is not None:
            message = jp.match_success_policy(
                view.spec.get("successPolicy"), view.completions, view.succeeded_indexes
            )
            if message is not None:
                return "Complete", "SuccessPolicy", message
        if view.completions is None:
            done = view.succeeded > 0 and not view.active
        else:
            done = view.succeeded >= view.completions
        if done:
            return "Complete", "CompletionsReached", "Reached expected number of succeeded pods"
        return None

    async def _finish(
        self,
        job: KubeObject,
        view: _View,
        conditions: list[KubeObject],
        status: KubeObject,
        target: tuple[str, str, str],
    ) -> None:
        """Delete what still runs; write the terminal condition once nothing terminates."""
        await self._delete(job, view.active)
        if any(_terminating(p) for p in self.owned(PODS, job)):
            return  # the pods' deletion events bring the Job back here
        type_, reason, message = target
        _ensure_condition(conditions, type_, "True", reason, message, view.moment)
        if type_ == "Complete":
            status["completionTime"] = rfc3339(view.moment)
            self.event(job, "Normal", "Completed", "Job completed")
        else:
            self.event(job, "Warning", reason, message)

    # -- running pods --------------------------------------------------------------------
    def _want(self, view: _View) -> int:
        if view.completions is None:
            return 0 if view.succeeded else view.parallelism
        return max(0, min(view.parallelism, view.completions - view.succeeded))

    async def _manage(self, key: Key, view: _View, memory: _Failures) -> None:
        want = self._want(view)
        surplus = self._surplus(view, want)
        if surplus:
            await self._delete(view.job, surplus)
            return
        waiting = len(view.terminating) if _replace_failed_only(view.spec) else 0
        missing = want - waiting - len(view.active)
        if missing <= 0:
            return
        if view.per_index is None and memory.seen:
            wait = memory.last + backoff_delay(memory.seen) - view.moment
            if wait > 0:
                self.enqueue(key, wait)
                return
        if not view.indexed or view.completions is None:
            await self._create(view, [None] * missing)
            return
        indexes = jp.first_pending(self._taken(view), missing, view.completions)
        if view.per_index is not None:
            indexes, wait = self._past_index_backoff(view, memory, indexes)
            if not indexes:
                self.enqueue(key, wait)
                return
        await self._create(view, list(indexes))

    def _surplus(self, view: _View, want: int) -> list[KubeObject]:
        """Active pods to delete: for an indexed Job repeats and strays first, then the
        least advanced beyond ``want`` (kube's ``activePodsForRemoval``)."""
        remove: list[KubeObject] = []
        keep = list(view.active)
        if view.indexed:
            keep, remove = [], []
            by_index: dict[int, list[KubeObject]] = {}
            for pod in view.active:
                index = jp.completion_index(pod)
                if not view.valid_index(pod) or index is None:
                    remove.append(pod)
                else:
                    by_index.setdefault(index, []).append(pod)
            for same in by_index.values():
                ranked = sorted(same, key=deletion_rank)
                remove += ranked[:-1]
                keep.append(ranked[-1])
        if len(keep) > want:
            remove += sorted(keep, key=deletion_rank)[: len(keep) - want]
        return remove

    def _taken(self, view: _View) -> list[jp.Interval]:
        """Indexes not to start again: succeeded, running, failed for good, and (when only
        failed pods are replaced) still terminating."""
        busy = list(view.active)
        if _replace_failed_only(view.spec):
            busy += view.terminating
        running = jp.of_indexes(i for p in busy if (i := jp.completion_index(p)) is not None)
        return jp.merge(view.succeeded_indexes, running, view.failed_indexes or [])

    def _last_failures(self, view: _View) -> dict[int, KubeObject]:
        """Per index still to run, its latest failed pod (most failures before it)."""
        latest: dict[int, KubeObject] = {}
        for pod in view.failed_pods:
            index = jp.completion_index(pod)
            if index is None:
                continue
            best = latest.get(index)
            if best is None or sum(jp.failure_counts(pod)) >= sum(jp.failure_counts(best)):
                latest[index] = pod
        return latest

    def _past_index_backoff(
        self, view: _View, memory: _Failures, indexes: list[int]
    ) -> tuple[list[int], float]:
        """The indexes whose own backoff has passed, else the shortest wait among them."""
        latest = self._last_failures(view)
        ready: list[int] = []
        waits: list[float] = []
        for index in indexes:
            pod = latest.get(index)
            if pod is None:
                ready.append(index)
                continue
            failures = sum(jp.failure_counts(pod)) + 1
            seen = memory.first_seen.get(pod["metadata"]["uid"], view.moment)
            wait = seen + backoff_delay(failures) - view.moment
            if wait <= 0:
                ready.append(index)
            else:
                waits.append(wait)
        return ready, min(waits, default=0.0)

    async def _create(self, view: _View, indexes: list[int | None]) -> None:
        job = view.job
        meta = job["metadata"]
        ns = meta["namespace"]
        template = view.spec.get("template") or {}
        ref = owner_reference(job, JOBS)
        latest = self._last_failures(view) if view.per_index is not None else {}

        async def create(index: int | None) -> None:
            if index is None:
                body = pod_from_template(template, ref, ns, f"{meta['name']}-")
            else:
                body = _indexed_pod(view, template, ref, index, latest.get(index))
            pod = await self.registry.create(PODS, ns, body)
            self.event(job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        await in_batches([create(i) for i in indexes])

    def _arm_deadline(self, key: Key, spec: KubeObject, status: KubeObject, moment: float) -> None:
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is not None and started is not None:
            self.enqueue(key, max(0.01, started.timestamp() + int(deadline) - moment))

    async def _delete(self, job: KubeObject, pods: list[KubeObject]) -> None:
        ns = job["metadata"]["namespace"]

        async def delete(pod: KubeObject) -> None:
            name = pod["metadata"]["name"]
            await self.registry.delete(PODS, ns, name, DeleteOptions())
            self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        if pods:
            await in_batches([delete(p) for p in pods], initial=len(pods))

    # -- status --------------------------------------------------------------------------
    def _count(self, view: _View, status: KubeObject, pods: list[KubeObject]) -> None:
        active = [p for p in pods if is_active(p)]
        if active:
            status["active"] = len(active)
        if view.succeeded:
            status["succeeded"] = view.succeeded
        if view.counted_failed:
            status["failed"] = len(view.counted_failed)
        if view.indexed and view.succeeded_indexes:
            status["completedIndexes"] = jp.format_indexes(view.succeeded_indexes)
        if view.failed_indexes is not None:
            status["failedIndexes"] = jp.format_indexes(view.failed_indexes)
        status["ready"] = sum(1 for p in active if is_ready(p))
        status["terminating"] = sum(1 for p in pods if _terminating(p))
        status["uncountedTerminatedPods"] = {}


def _indexed_pod(
    view: _View,
    template: KubeObject,
    ref: KubeObject,
    index: int,
    replaces: KubeObject | None,
) -> KubeObject:
    """The pod for ``index``: kube's annotation, label, env var, hostname and name."""
    name = view.job["metadata"]["name"]
    suffix = f"-{index}-"
    prefix = name + suffix
    if len(prefix) > _MAX_GENERATED_NAME:
        prefix = prefix[: _MAX_GENERATED_NAME - len(suffix)] + suffix
    shaped = copy.deepcopy(template)
    tmeta = shaped.setdefault("metadata", {})
    tmeta.setdefault("annotations", {})[jp.COMPLETION_INDEX] = str(index)
    tmeta.setdefault("labels", {})[jp.COMPLETION_INDEX] = str(index)
    if view.per_index is not None:
        tmeta["annotations"].update(_failure_count_annotations(view, replaces))
    spec = shaped.setdefault("spec", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        _add_index_env(container)
    spec["hostname"] = f"{name}-{index}"
    return pod_from_template(shaped, ref, view.job["metadata"]["namespace"], prefix)


def _failure_count_annotations(view: _View, replaces: KubeObject | None) -> dict[str, str]:
    """The replacement pod inherits its index's failures, one more for the pod it replaces."""
    counted, ignored = (0, 0) if replaces is None else jp.failure_counts(replaces)
    if replaces is not None:
        if jp.match_pod_failure_policy(view.policy, replaces).counts:
            counted += 1
        else:
            ignored += 1
    result = {jp.INDEX_FAILURE_COUNT: str(counted)}
    if ignored:
        result[jp.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    return result


def _add_index_env(container: KubeObject) -> None:
    """JOB_COMPLETION_INDEX from the index label (PodIndexLabel, GA in 1.32), unless set."""
    env = container.setdefault("env", [])
    if any(var.get("name") == COMPLETION_INDEX_ENV for var in env):
        return
    env.append(
        {
            "name": COMPLETION_INDEX_ENV,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{jp.COMPLETION_INDEX}']"}},
        }
    )


def _replace_failed_only(spec: KubeObject) -> bool:
    return spec.get("podReplacementPolicy") == "Failed"


def _terminating(pod: KubeObject) -> bool:
    """Being deleted and not yet finished (kube's ``FilterTerminatingPods``)."""
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) not in _DONE


def _phase(pod: KubeObject) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _interim(conditions: list[KubeObject]) -> tuple[str, str, str] | None:
    """The terminal condition an interim one already promises, with its reason/message."""
    for interim, final in (("SuccessCriteriaMet", "Complete"), ("FailureTarget", "Failed")):
        for cond in conditions:
            if cond.get("type") == interim and cond.get("status") == "True":
                return final, str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None


def _ensure_condition(
    conditions: list[KubeObject],
    type_: str,
    status: str,
    reason: str,
    message: str,
    moment: float,
) -> bool:
    """kube's ensureJobConditionStatus: replace the condition when anything differs (new
    probe and transition times); never add one that is False. True when changed."""
    stamp = rfc3339(moment)
    fresh = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }
    for i, cond in enumerate(conditions):
        if cond.get("type") == type_:
            if (cond.get("status"), cond.get("reason"), cond.get("message")) == (
                status,
                reason,
                message,
            ):
                return False
            conditions[i] = fresh
            return True
    if status == "False":
        return False
    conditions.append(fresh)
    return True
