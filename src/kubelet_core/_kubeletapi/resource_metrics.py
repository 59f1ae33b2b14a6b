"""``/metrics/resource``: the Prometheus series metrics-server scrapes from every kubelet.

The series names, labels and types are kubelet's (``node_cpu_usage_seconds_total``,
``pod_memory_working_set_bytes``, ``container_cpu_usage_seconds_total``...), each
sample stamped with the time it was measured, because metrics-server computes CPU
rates from two scrapes' cumulative counters and their timestamps.  The text is
rendered by prometheus_client from a one-shot collector, so escaping and format
are the library's, not ours.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubelet_core._kubeletapi.stats import MeasuredPod, NodeUsage


class _Snapshot(Collector):
    def __init__(self, node: NodeUsage, pods: list[MeasuredPod], now: datetime.datetime) -> None:
        self._node = node
        self._pods = pods
        self._stamp = now.timestamp()

    def collect(self) -> Iterator[Metric]:
        stamp = self._stamp
        node_cpu = CounterMetricFamily(
            "node_cpu_usage_seconds_total",
            "Cumulative cpu time consumed by the node in core-seconds",
            labels=[],
        )
        node_cpu.add_metric([], self._node.cpu.core_nano_seconds / 1e9, timestamp=stamp)
        node_memory = GaugeMetricFamily(
            "node_memory_working_set_bytes",
            "Current working set of the node in bytes",
            labels=[],
        )
        node_memory.add_metric([], self._node.memory_working_set_bytes, timestamp=stamp)

        pod_labels = ["namespace", "pod"]
        pod_cpu = CounterMetricFamily(
            "pod_cpu_usage_seconds_total",
            "Cumulative cpu time consumed by the pod in core-seconds",
            labels=pod_labels,
        )
        pod_memory = GaugeMetricFamily(
            "pod_memory_working_set_bytes",
            "Current working set of the pod in bytes",
            labels=pod_labels,
        )
        container_labels = ["container", "namespace", "pod"]
        container_cpu = CounterMetricFamily(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed by the container in core-seconds",
            labels=container_labels,
        )
        container_memory = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set of the container in bytes",
            labels=container_labels,
        )
        container_start = GaugeMetricFamily(
            "container_start_time_seconds",
            "Start time of the container since unix epoch in seconds",
            labels=container_labels,
        )
        for pod in self._pods:
            ref = [pod.stats.namespace, pod.stats.name]
            pod_cpu.add_metric(ref, pod.cpu.core_nano_seconds / 1e9, timestamp=stamp)
            pod_memory.add_metric(ref, pod.memory_working_set_bytes, timestamp=stamp)
            for container in pod.containers:
                labels = [container.stats.name, *ref]
                container_cpu.add_metric(
                    labels, container.cpu.core_nano_seconds / 1e9, timestamp=stamp
                )
                container_memory.add_metric(
                    labels, container.stats.memory_working_set_bytes, timestamp=stamp
                )
                started = container.stats.start_time or pod.stats.start_time
                if started is not None:
                    container_start.add_metric(labels, started.timestamp(), timestamp=stamp)
        scrape_error = GaugeMetricFamily(
            "scrape_error", "1 if there was an error while getting container metrics, 0 otherwise"
        )
        scrape_error.add_metric([], 0)
        yield from (
            container_cpu,
            container_memory,
            container_start,
            node_cpu,
            node_memory,
            pod_cpu,
            pod_memory,
            scrape_error,
        )


def render_resource_metrics(
    node: NodeUsage, pods: list[MeasuredPod], now: datetime.datetime
) -> bytes:
    """The Prometheus text exposition of one measurement."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(node, pods, now))
    return generate_latest(registry)
