"""The kubelet API server (port 10250): logs, stats, metrics, and kubelet's webhook auth."""

from kubelet_core.kubeletapi.auth import ReviewApi, User
from kubelet_core.kubeletapi.server import KubeletApiServer, PodsSource
from kubelet_core.kubeletapi.stats import ContainerStats, PodStats, StatsProvider

__all__ = [
    "ContainerStats",
    "KubeletApiServer",
    "PodStats",
    "PodsSource",
    "ReviewApi",
    "StatsProvider",
    "User",
]
