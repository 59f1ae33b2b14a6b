"""Optional provider ability: report the resource usage of the pods it runs.

Kept apart from :mod:`kubelet_core._provider.base` in the spirit of Virtual
Kubelet's separate ``PodMetricsProvider``: a minimal provider ignores it, and a
provider that can measure its containers implements one method.  The kubelet
API (:mod:`kubelet_core._kubeletapi`) turns the answers into ``/stats/summary``
and ``/metrics/resource``, and derives CPU rates itself when a provider reports
only cumulative CPU time (which is all most runtimes can count).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Protocol, runtime_checkable


@dataclasses.dataclass(frozen=True)
class ContainerStats:
    """One container's usage.  ``cpu_usage_nano_cores`` None: derived from two samples."""

    name: str
    cpu_usage_core_nano_seconds: int
    memory_working_set_bytes: int
    memory_usage_bytes: int | None = None
    cpu_usage_nano_cores: int | None = None
    start_time: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class PodStats:
    namespace: str
    name: str
    uid: str = ""
    containers: tuple[ContainerStats, ...] = ()
    start_time: datetime.datetime | None = None


@runtime_checkable
class StatsProvider(Protocol):
    """Implemented by providers that can measure their pods (checked with ``isinstance``)."""

    async def pod_stats(self) -> list[PodStats]: ...
