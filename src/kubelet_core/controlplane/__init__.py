"""Embedded Kubernetes control plane: a real-HTTPS stand-in for kube-apiserver.

Layers, bottom up: ``persistence`` (SQLite group commit) → ``store`` (objects,
resourceVersions, watch fan-out) → ``registry`` (API semantics) → ``api``/``watch``
(HTTP) → ``server`` (ControlPlane: TLS, auth, lifecycle); ``scheduler`` binds pods
through the registry.
"""

from kubelet_core.controlplane.server import ControlPlane, serve_forever

__all__ = ["ControlPlane", "serve_forever"]
