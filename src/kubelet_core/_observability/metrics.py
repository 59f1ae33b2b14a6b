"""The agent's Prometheus metrics, in a registry the agent owns.

Each :class:`AgentMetrics` has its own ``CollectorRegistry`` (not the global
default), so several agents in one process -- the test suite, a multi-node
``wasmlet up`` -- never collide on metric names.  The kubelet API server
exposes ``metrics.registry`` with ``prometheus_client.generate_latest``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
_API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class AgentMetrics:
    """Pods by phase, pod start latency, API requests, watch restarts."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.pods = Gauge(
            "wasmlet_pods",
            "Pods on this node by phase, as last written by the agent",
            ["phase"],
            registry=self.registry,
        )
        self.pod_start_seconds = Histogram(
            "wasmlet_pod_start_duration_seconds",
            "From pod creation to the agent writing phase Running",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.api_requests = Counter(
            "wasmlet_api_requests_total",
            "API server requests by verb, resource and code",
            ["verb", "resource", "code"],
            registry=self.registry,
        )
        self.api_latency = Histogram(
            "wasmlet_api_request_duration_seconds",
            "API server request latency",
            ["verb", "resource"],
            buckets=_API_BUCKETS,
            registry=self.registry,
        )
        self.watch_restarts = Counter(
            "wasmlet_watch_restarts_total",
            "Watch streams reopened, by resource and cause",
            ["resource", "cause"],
            registry=self.registry,
        )
        self.events_dropped = Counter(
            "wasmlet_events_dropped_total",
            "Events not sent (rate limit, full queue, errors)",
            ["cause"],
            registry=self.registry,
        )
        self._phases: dict[str, str] = {}
        #: Labelled children by label values: ``labels()`` takes a lock and validates
        #: its arguments each call (~3 us), and every API request observes two.
        self._children: dict[tuple[str, ...], Any] = {}
        self._phase_gauges = {phase: self.pods.labels(phase=phase) for phase in POD_PHASES}
        for gauge in self._phase_gauges.values():
            gauge.set(0)

    def observe_request(self, verb: str, resource: str, code: int, seconds: float) -> None:
        children = self._children.get((verb, resource, str(code)))
        if children is None:
            children = self._children[(verb, resource, str(code))] = (
                self.api_requests.labels(verb=verb, resource=resource, code=str(code)),
                self.api_latency.labels(verb=verb, resource=resource),
            )
        children[0].inc()
        children[1].observe(seconds)

    def event_dropped(self, cause: str) -> None:
        """Count one Event not sent, by ``cause`` (a burst can drop hundreds)."""
        child = self._children.get(("events_dropped", cause))
        if child is None:
            child = self._children[("events_dropped", cause)] = self.events_dropped.labels(
                cause=cause
            )
        child.inc()

    def set_pod_phase(self, key: str, phase: str | None) -> None:
        """Record the phase of pod ``key`` (``None``: the pod is gone)."""
        old = self._phases.pop(key, None)
        if old is not None:
            self._phase_gauges[old].dec()
        if phase is not None:
            phase = phase if phase in POD_PHASES else "Unknown"
            self._phases[key] = phase
            self._phase_gauges[phase].inc()
