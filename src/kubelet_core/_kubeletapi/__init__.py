"""The kubelet API server (port 10250): logs, stats, metrics, and kubelet's webhook auth.

A node agent runs one next to its pod workers::

    server = KubeletApiServer(
        provider, node_name=settings.node_name, host=settings.node_ip, port=settings.port,
        cert_dir=settings.node_dir / "pki",
        client_ca_file=client_ca_from_kubeconfig(kubeconfig, settings.node_dir / "pki"),
        api=api, metrics_registry=agent.metrics.registry,
    )
    await server.start()             # then advertise server.port in the Node's
    ...                              # status.daemonEndpoints.kubeletEndpoint.Port
    await server.stop()

The control plane's side (pod log proxy, TokenReview/SubjectAccessReview,
metrics.k8s.io) lives in :mod:`kubelet_core._controlplane`.
"""

from kubelet_core._kubeletapi.auth import ReviewApi, User
from kubelet_core._kubeletapi.connections import ConnectionLimits
from kubelet_core._kubeletapi.server import KubeletApiServer, PodsSource
from kubelet_core._kubeletapi.stats import ContainerStats, PodStats, StatsProvider
from kubelet_core._kubeletapi.tls import client_ca_from_kubeconfig

__all__ = [
    "ConnectionLimits",
    "ContainerStats",
    "KubeletApiServer",
    "PodStats",
    "PodsSource",
    "ReviewApi",
    "StatsProvider",
    "User",
    "client_ca_from_kubeconfig",
]
