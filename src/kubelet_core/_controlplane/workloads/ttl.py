"""TTL-after-finished: delete a finished Job ``ttlSecondsAfterFinished`` after it finished.

As kube's ttlafterfinished controller: the Job's finish time is its ``completionTime``, or
the time its ``Complete``/``Failed`` condition turned True; once the clock passes that plus
the TTL the Job is deleted with background propagation, so the garbage collector takes
its pods along. Until then the Job is looked at again when it is due.
"""

from __future__ import annotations

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._controlplane.registry import DeleteOptions
from kubelet_core._controlplane.resources import JOBS
from kubelet_core._controlplane.workloads.base import Key, KubeObject, WorkloadController
from kubelet_core._controlplane.workloads.job import finished_condition


def finished_at(job: KubeObject) -> float | None:
    cond = finished_condition(job)
    if cond is None:
        return None
    moment = parse_time((job.get("status") or {}).get("completionTime")) or parse_time(
        cond.get("lastTransitionTime")
    )
    return None if moment is None else moment.timestamp()


class TTLAfterFinishedController(WorkloadController):
    name = "ttl-after-finished-controller"
    kind = JOBS

    async def reconcile(self, key: Key) -> None:
        job = self.get(JOBS, key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = finished_at(job)
        if ttl is None or finished is None:
            return
        remaining = finished + int(ttl) - self.clock.time()
        if remaining > 0:
            self.enqueue(key, remaining)
            return
        await self.registry.delete(
            JOBS, key[0], key[1], DeleteOptions({"propagationPolicy": "Background"})
        )
