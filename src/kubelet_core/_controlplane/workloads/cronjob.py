"""The CronJob controller: create a Job from the template at each scheduled time.

As kube's cronjob controller (v2): the most recent scheduled time not yet run (after
``lastScheduleTime``, or the CronJob's creation, and no earlier than
``startingDeadlineSeconds`` ago) gets a Job named ``<cronjob>-<minutes since epoch>``,
annotated with the scheduled time, so a second look at the same time finds it instead
of making another. ``concurrencyPolicy`` Forbid skips a run while a Job is still
active, Replace deletes the active Jobs first; a suspended CronJob creates nothing.
Status keeps the active Jobs, ``lastScheduleTime`` and ``lastSuccessfulTime``; finished
Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` are deleted,
oldest first. The controller then waits on the clock for the next scheduled time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time, rfc3339
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import CRONJOBS, JOBS
from kubelet_core._controlplane.store import Event
from kubelet_core._controlplane.workloads.base import (
    Key,
    WorkloadController,
    key_of,
    owner_keys,
    owner_reference,
)
from kubelet_core._controlplane.workloads.cron import Schedule, ScheduleError, parse_schedule
from kubelet_core._controlplane.workloads.job import finished_condition

KubeObject = dict[str, Any]
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100  # kube gives up counting missed start times beyond this


def job_name(cronjob: str, scheduled: dt.datetime) -> str:
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def most_recent(
    schedule: Schedule, earliest: dt.datetime, moment: dt.datetime
) -> tuple[dt.datetime | None, int]:
    """The last scheduled time in (earliest, moment], and how many were missed in all."""
    found, missed = None, 0
    t = schedule.next_after(earliest)
    while t is not None and t <= moment:
        found, missed = t, missed + 1
        if missed > MAX_MISSED:
            # Too many to walk: jump to the last one before now.
            back = schedule.next_after(moment - dt.timedelta(minutes=1))
            found = back if back is not None and back <= moment else found
            break
        t = schedule.next_after(t)
    return found, missed


class CronJobController(WorkloadController):
    name = "cronjob-controller"
    kind = CRONJOBS

    def keys_for(self, event: Event) -> Iterable[Key]:
        if event.rt is CRONJOBS:
            yield key_of(event.obj)
        elif event.rt is JOBS:
            yield from owner_keys(event, "CronJob")

    async def reconcile(self, key: Key) -> None:
        cj = self.get(CRONJOBS, key)
        if cj is None:
            return
        spec = cj.get("spec") or {}
        old = cj.get("status") or {}
        status: KubeObject = {k: v for k, v in old.items() if k != "active"}
        jobs = self.owned(JOBS, cj)
        active = [j for j in jobs if finished_condition(j) is None]
        for job in jobs:
            cond = finished_condition(job)
            done = parse_time((job.get("status") or {}).get("completionTime"))
            if cond is None or cond["type"] != "Complete" or done is None:
                continue
            last = parse_time(status.get("lastSuccessfulTime"))
            if last is None or done > last:
                status["lastSuccessfulTime"] = rfc3339(done)
        if not cj["metadata"].get("deletionTimestamp"):
            await self._cleanup(cj, jobs)
            if not spec.get("suspend"):
                created = await self._schedule(cj, key, spec, status, active)
                if created is not None:
                    active.append(created)
        if active:
            # Kept as first recorded, so a Job's status updates do not rewrite the CronJob.
            known = {r.get("uid"): r for r in old.get("active") or []}
            status["active"] = [known.get(j["metadata"]["uid"]) or _reference(j) for j in active]
        await self.write_status(CRONJOBS, cj, status)

    async def _schedule(
        self,
        cj: KubeObject,
        key: Key,
        spec: KubeObject,
        status: KubeObject,
        active: list[KubeObject],
    ) -> KubeObject | None:
        try:
            schedule = parse_schedule(str(spec.get("schedule", "")), spec.get("timeZone"))
        except ScheduleError as exc:
            self.event(cj, "Warning", "UnparseableSchedule", f"unparseable schedule: {exc}")
            return None
        moment = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
            cj["metadata"].get("creationTimestamp")
        )
        if earliest is None:
            earliest = moment
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, moment - dt.timedelta(seconds=int(deadline)))
        scheduled, missed = most_recent(schedule, earliest, moment)
        self._requeue(key, schedule, moment)
        if scheduled is None:
            return None
        if missed > MAX_MISSED:
            self.event(cj, "Warning", "TooManyMissedTimes", "too many missed start times")
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < moment:
            self.event(
                cj,
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc3339(scheduled)}",
            )
            return None
        name = job_name(cj["metadata"]["name"], scheduled)
        if any(j["metadata"]["name"] == name for j in active):
            return None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.event(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running"
                " and concurrency policy is Forbid",
            )
            return None
        ns = cj["metadata"]["namespace"]
        if policy == "Replace":
            for job in list(active):
                await self.registry.delete(
                    JOBS,
                    ns,
                    job["metadata"]["name"],
                    DeleteOptions({"propagationPolicy": "Background"}),
                )
                self.event(
                    cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}"
                )
                active.remove(job)
        try:
            job = await self.registry.create(
                JOBS, ns, self._job_body(cj, name, scheduled, schedule)
            )
            self.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        except ApiError as exc:
            if exc.code != 409:
                raise
            existing = self.get(JOBS, (ns, name))
            if existing is None:
                raise
            job = existing
        status["lastScheduleTime"] = rfc3339(scheduled)
        return job

    def _job_body(
        self, cj: KubeObject, name: str, scheduled: dt.datetime, schedule: Schedule
    ) -> KubeObject:
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(schedule.zone).isoformat()
        meta: KubeObject = {
            "name": name,
            "namespace": cj["metadata"]["namespace"],
            "annotations": annotations,
            "ownerReferences": [owner_reference(cj, CRONJOBS)],
        }
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": dict(template.get("spec") or {}),
        }

    def _requeue(self, key: Key, schedule: Schedule, moment: dt.datetime) -> None:
        upcoming = schedule.next_after(moment)
        if upcoming is not None:
            self.enqueue(key, max(0.01, (upcoming - moment).total_seconds()))

    async def _cleanup(self, cj: KubeObject, jobs: list[KubeObject]) -> None:
        """Delete the oldest finished Jobs beyond the history limits."""
        spec = cj.get("spec") or {}
        ns = cj["metadata"]["namespace"]
        for kind, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit")),
            ("Failed", spec.get("failedJobsHistoryLimit")),
        ):
            if limit is None:
                continue
            done = [j for j in jobs if (finished_condition(j) or {}).get("type") == kind]
            if len(done) <= int(limit):
                continue
            done.sort(
                key=lambda j: (
                    (j.get("status") or {}).get("startTime") or "",
                    j["metadata"]["name"],
                )
            )
            for job in done[: len(done) - int(limit)]:
                if job["metadata"].get("deletionTimestamp"):
                    continue
                name = job["metadata"]["name"]
                await self.registry.delete(
                    JOBS, ns, name, DeleteOptions({"propagationPolicy": "Background"})
                )
                self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")


def _reference(job: KubeObject) -> KubeObject:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }
