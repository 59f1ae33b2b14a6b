"""The Job controller: run pods until ``completions`` succeed, or give up (NonIndexed mode).

As kube's job controller: at most ``parallelism`` pods are active, and no more than the
completions still missing; every failed pod counts against ``backoffLimit``, and after
a failure new pods wait an exponential backoff (10 s doubling, capped at 6 min) on the
clock. A Job fails with reason ``BackoffLimitExceeded`` once more pods failed than the
limit allows, or ``DeadlineExceeded`` once it has been active ``activeDeadlineSeconds``;
its active pods are then deleted. It completes when enough pods succeeded (conditions
``SuccessCriteriaMet`` then ``Complete``, and ``completionTime``). A suspended Job has
no active pods and no ``startTime``; resuming starts the deadline anew.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time, rfc3339
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import JOBS, PODS
from kubelet_core._controlplane.store import Event
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


class JobController(WorkloadController):
    name = "job-controller"
    kind = JOBS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # key -> (uid, failed pods seen, clock time the last new failure was seen)
        self._failures: dict[Key, tuple[str, int, float]] = {}

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
        spec = job.get("spec") or {}
        pods = self.owned(PODS, job)
        active = [p for p in pods if is_active(p)]
        succeeded = sum(1 for p in pods if _phase(p) == "Succeeded")
        failed = sum(1 for p in pods if _phase(p) == "Failed")
        old = job.get("status") or {}
        status: KubeObject = {k: v for k, v in old.items() if k in ("startTime", "completionTime")}
        conditions = [dict(c) for c in old.get("conditions") or []]
        moment = self.clock.time()
        uid = job["metadata"]["uid"]
        known, seen, last_failure = self._failures.get(key, (uid, 0, moment))
        if known != uid:  # a new Job of the same name
            seen, last_failure = 0, moment
        if failed > seen:
            seen, last_failure = failed, moment
            self._failures[key] = (uid, seen, last_failure)

        if finished_condition(job) is not None:
            self._failures.pop(key, None)
            await self._delete(job, active)
        elif spec.get("suspend"):
            status.pop("startTime", None)
            _set_condition(conditions, "Suspended", "JobSuspended", "Job suspended", moment)
            await self._delete(job, active)
        else:
            conditions = [c for c in conditions if c.get("type") != "Suspended"]
            status.setdefault("startTime", rfc3339(moment))
            failure = self._failure(spec, status, failed, moment)
            completions = spec.get("completions")
            parallelism = int(spec.get("parallelism") or 0)
            if failure is not None:
                reason, message = failure
                _set_condition(conditions, "FailureTarget", reason, message, moment)
                _set_condition(conditions, "Failed", reason, message, moment)
                self.event(job, "Warning", reason, message)
                await self._delete(job, active)
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                message = "Reached expected number of succeeded pods"
                _set_condition(
                    conditions, "SuccessCriteriaMet", "CompletionsReached", message, moment
                )
                _set_condition(conditions, "Complete", "CompletionsReached", message, moment)
                status["completionTime"] = rfc3339(moment)
                self.event(job, "Normal", "Completed", "Job completed")
                await self._delete(job, active)
            else:
                if completions is None:
                    want = 0 if succeeded else parallelism
                else:
                    want = min(parallelism, int(completions) - succeeded)
                wait = last_failure + backoff_delay(seen) - moment if seen else 0.0
                if len(active) < want and wait > 0:
                    self.enqueue(key, wait)
                else:
                    await self._manage(job, active, want)
                self._arm_deadline(key, spec, status, moment)
            active = [p for p in self.owned(PODS, job) if is_active(p)]

        if active:
            status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        status["ready"] = sum(1 for p in active if is_ready(p))
        status["terminating"] = sum(
            1 for p in pods if p["metadata"].get("deletionTimestamp") and _phase(p) not in _DONE
        )
        if conditions:
            status["conditions"] = conditions
        await self.write_status(JOBS, job, status)

    def _failure(
        self, spec: KubeObject, status: KubeObject, failed: int, moment: float
    ) -> tuple[str, str] | None:
        if failed > int(spec.get("backoffLimit", 6)):
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if (
            deadline is not None
            and started is not None
            and started.timestamp() + int(deadline) <= moment
        ):
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        return None

    def _arm_deadline(self, key: Key, spec: KubeObject, status: KubeObject, moment: float) -> None:
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is not None and started is not None:
            self.enqueue(key, max(0.01, started.timestamp() + int(deadline) - moment))

    async def _manage(self, job: KubeObject, active: list[KubeObject], want: int) -> None:
        meta = job["metadata"]
        ns = meta["namespace"]
        diff = want - len(active)
        if diff > 0:
            template = (job.get("spec") or {}).get("template") or {}
            ref = owner_reference(job, JOBS)

            async def create() -> None:
                body = pod_from_template(template, ref, ns, f"{meta['name']}-")
                pod = await self.registry.create(PODS, ns, body)
                self.event(
                    job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
                )

            await in_batches([create() for _ in range(diff)])
        elif diff < 0:
            await self._delete(job, sorted(active, key=deletion_rank)[:-diff])

    async def _delete(self, job: KubeObject, pods: list[KubeObject]) -> None:
        ns = job["metadata"]["namespace"]

        async def delete(pod: KubeObject) -> None:
            name = pod["metadata"]["name"]
            await self.registry.delete(PODS, ns, name, DeleteOptions())
            self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        if pods:
            await in_batches([delete(p) for p in pods], initial=len(pods))


_DONE = ("Succeeded", "Failed")


def _phase(pod: KubeObject) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _set_condition(
    conditions: list[KubeObject], type_: str, reason: str, message: str, moment: float
) -> None:
    """Set ``type_`` True (keeping its transition time if it already was)."""
    for cond in conditions:
        if cond.get("type") == type_:
            if cond.get("status") != "True":
                cond.update(status="True", lastTransitionTime=rfc3339(moment))
            cond.update(reason=reason, message=message)
            return
    stamp = rfc3339(moment)
    conditions.append(
        {
            "type": type_,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
