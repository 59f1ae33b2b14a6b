"""Logging set-up and the agent's Prometheus metrics."""

from kubelet_core._observability.logging import LogFormat, configure_logging
from kubelet_core._observability.metrics import AgentMetrics

__all__ = ["AgentMetrics", "LogFormat", "configure_logging"]
