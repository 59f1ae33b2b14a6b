"""Resource usage of pods and the node, as ``/stats/summary`` and ``/metrics/resource`` show it.

A provider that can measure its containers implements the optional
:class:`~kubelet_core._provider.stats.StatsProvider` ability (one method, defined
beside the provider contract so container-running providers can implement it
without importing this package); a minimal provider stays minimal and the node
still reports its own usage.  Providers may report only cumulative CPU
time: :class:`CpuRateTracker` turns two samples into the instantaneous
``usageNanoCores`` that ``kubectl top`` prints, as cAdvisor does for kubelet.

Node figures come from psutil over the whole host, like kubelet's root cgroup.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

import psutil

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._provider.base import KubeObject
from kubelet_core._provider.stats import ContainerStats, PodStats, StatsProvider

__all__ = [
    "ContainerStats",
    "CpuRateTracker",
    "PodStats",
    "StatsProvider",
    "measure_node",
    "measure_pods",
    "summary_json",
]


@dataclasses.dataclass(frozen=True)
class CpuSample:
    core_nano_seconds: int
    nano_cores: int


class CpuRateTracker:
    """Derives usage in nano-cores from cumulative CPU time between successive reads.

    Reads closer together than :attr:`min_interval` return the previous rate and
    keep the older sample as the base: a rate over a few milliseconds is noise.
    """

    def __init__(self, min_interval: float = 1.0) -> None:
        self.min_interval = min_interval
        self._last: dict[str, tuple[float, int, int]] = {}  # key -> (time, cumulative, rate)

    def sample(self, key: str, core_nano_seconds: int, now: float | None = None) -> int:
        """Rate since the previous sample of ``key`` (0 for the first one)."""
        now = time.monotonic() if now is None else now
        previous = self._last.get(key)
        if previous is None:
            self._last[key] = (now, core_nano_seconds, 0)
            return 0
        elapsed = now - previous[0]
        if elapsed < self.min_interval:
            return previous[2]
        used = core_nano_seconds - previous[1]
        rate = int(used / elapsed) if used >= 0 else 0  # a restarted container resets
        self._last[key] = (now, core_nano_seconds, rate)
        return rate

    def forget_except(self, keys: set[str]) -> None:
        """Drop samples of containers that are gone, so the table does not grow forever."""
        for key in set(self._last) - keys:
            del self._last[key]


@dataclasses.dataclass(frozen=True)
class NodeUsage:
    cpu: CpuSample
    memory_working_set_bytes: int
    memory_usage_bytes: int
    memory_available_bytes: int
    boot_time: datetime.datetime


def _host_cpu_core_nano_seconds() -> int:
    times = psutil.cpu_times()
    busy = float(times.user) + float(times.system) + float(getattr(times, "nice", 0.0))
    for extra in ("irq", "softirq", "steal"):
        busy += float(getattr(times, extra, 0.0))
    return int(busy * 1e9)


def measure_node(tracker: CpuRateTracker) -> NodeUsage:
    """Host CPU (cumulative and rate) and memory, measured now."""
    used = _host_cpu_core_nano_seconds()
    memory = psutil.virtual_memory()
    return NodeUsage(
        cpu=CpuSample(used, tracker.sample("\0node", used)),
        memory_working_set_bytes=int(memory.total - memory.available),
        memory_usage_bytes=int(memory.total - memory.free),
        memory_available_bytes=int(memory.available),
        boot_time=datetime.datetime.fromtimestamp(psutil.boot_time(), datetime.UTC),
    )


def _cpu_json(sample: CpuSample, at: str) -> KubeObject:
    return {
        "time": at,
        "usageNanoCores": sample.nano_cores,
        "usageCoreNanoSeconds": sample.core_nano_seconds,
    }


def _memory_json(working_set: int, usage: int, at: str) -> KubeObject:
    return {"time": at, "workingSetBytes": working_set, "usageBytes": usage}


@dataclasses.dataclass(frozen=True)
class MeasuredContainer:
    stats: ContainerStats
    cpu: CpuSample

    @property
    def memory_usage_bytes(self) -> int:
        stats = self.stats
        return (
            stats.memory_working_set_bytes
            if stats.memory_usage_bytes is None
            else (stats.memory_usage_bytes)
        )


@dataclasses.dataclass(frozen=True)
class MeasuredPod:
    stats: PodStats
    containers: tuple[MeasuredContainer, ...]

    @property
    def cpu(self) -> CpuSample:
        return CpuSample(
            sum(c.cpu.core_nano_seconds for c in self.containers),
            sum(c.cpu.nano_cores for c in self.containers),
        )

    @property
    def memory_working_set_bytes(self) -> int:
        return sum(c.stats.memory_working_set_bytes for c in self.containers)

    @property
    def memory_usage_bytes(self) -> int:
        return sum(c.memory_usage_bytes for c in self.containers)


def measure_pods(pods: list[PodStats], tracker: CpuRateTracker) -> list[MeasuredPod]:
    """Fill in CPU rates the provider left out, and sum containers into pods."""
    measured: list[MeasuredPod] = []
    seen: set[str] = {"\0node"}
    for pod in pods:
        containers = []
        for container in pod.containers:
            key = f"{pod.namespace}/{pod.name}/{pod.uid}/{container.name}"
            seen.add(key)
            rate = tracker.sample(key, container.cpu_usage_core_nano_seconds)
            if container.cpu_usage_nano_cores is not None:
                rate = container.cpu_usage_nano_cores
            containers.append(
                MeasuredContainer(container, CpuSample(container.cpu_usage_core_nano_seconds, rate))
            )
        measured.append(MeasuredPod(pod, tuple(containers)))
    tracker.forget_except(seen)
    return measured


def summary_json(
    node_name: str, node: NodeUsage, pods: list[MeasuredPod], now: datetime.datetime
) -> KubeObject:
    """The ``stats/v1alpha1`` ``Summary`` document kubelet serves at ``/stats/summary``."""
    at = rfc3339(now)
    pods_json = []
    for pod in pods:
        containers_json = []
        for container in pod.containers:
            entry: KubeObject = {
                "name": container.stats.name,
                "startTime": rfc3339(container.stats.start_time or pod.stats.start_time or now),
                "cpu": _cpu_json(container.cpu, at),
                "memory": _memory_json(
                    container.stats.memory_working_set_bytes, container.memory_usage_bytes, at
                ),
            }
            containers_json.append(entry)
        pods_json.append(
            {
                "podRef": {
                    "name": pod.stats.name,
                    "namespace": pod.stats.namespace,
                    "uid": pod.stats.uid,
                },
                "startTime": rfc3339(pod.stats.start_time or now),
                "containers": containers_json,
                "cpu": _cpu_json(pod.cpu, at),
                "memory": _memory_json(pod.memory_working_set_bytes, pod.memory_usage_bytes, at),
            }
        )
    return {
        "node": {
            "nodeName": node_name,
            "systemContainers": [],
            "startTime": rfc3339(node.boot_time),
            "cpu": _cpu_json(node.cpu, at),
            "memory": {
                **_memory_json(node.memory_working_set_bytes, node.memory_usage_bytes, at),
                "availableBytes": node.memory_available_bytes,
            },
        },
        "pods": pods_json,
    }
