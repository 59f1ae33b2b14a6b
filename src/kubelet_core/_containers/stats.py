"""Pod usage for ``kubectl top``: what the running containers report, as ``PodStats``.

:class:`~kubelet_core._containers.ContainerProvider` implements the optional
:class:`~kubelet_core._provider.stats.StatsProvider` ability with
:func:`collect_pod_stats`.  Each running container's
``RunningContainer.usage()`` gives cumulative CPU seconds and memory bytes
(for WASI: the module thread's CPU clock and the size of its linear memory);
the kubelet API derives CPU rates from successive samples.  Only containers
that are running count, and pods without one are left out, as kubelet's
summary leaves out containers that have ended.  Reading usage is cheap
(a clock read and a cached size), so this runs on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._containers.lifecycle import PodRunner
from kubelet_core._provider.stats import ContainerStats, PodStats

log = structlog.get_logger(__name__)


def collect_pod_stats(runners: Iterable[PodRunner]) -> list[PodStats]:
    """Usage of every pod with at least one running container."""
    pods: list[PodStats] = []
    for runner in runners:
        containers: list[ContainerStats] = []
        for run in runner.active_runs():
            try:
                usage = run.running.usage()
            except Exception:  # a runtime's best effort must not break the summary
                log.debug("usage() failed", pod=runner.name, container=run.record.name)
                continue
            containers.append(
                ContainerStats(
                    name=run.record.name,
                    cpu_usage_core_nano_seconds=int(usage.cpu_seconds * 1e9),
                    memory_working_set_bytes=int(usage.memory_bytes),
                    start_time=parse_time(run.started_at),
                )
            )
        if not containers:
            continue
        starts = [c.start_time for c in containers if c.start_time is not None]
        pods.append(
            PodStats(
                namespace=runner.namespace,
                name=runner.name,
                uid=runner.uid,
                containers=tuple(containers),
                start_time=min(starts) if starts else None,
            )
        )
    return pods
