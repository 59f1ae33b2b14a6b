"""API paths of the few resources a node agent touches, built in one place."""

from __future__ import annotations

from urllib.parse import quote

LEASE_NAMESPACE = "kube-node-lease"


def _seg(value: str) -> str:
    return quote(value, safe="")


def node_path(name: str | None = None) -> str:
    return "/api/v1/nodes" + (f"/{_seg(name)}" if name else "")


def pods_path(namespace: str | None = None) -> str:
    if namespace is None:
        return "/api/v1/pods"
    return f"/api/v1/namespaces/{_seg(namespace)}/pods"


def pod_path(namespace: str, name: str) -> str:
    return f"{pods_path(namespace)}/{_seg(name)}"


def lease_path(name: str | None = None, namespace: str = LEASE_NAMESPACE) -> str:
    base = f"/apis/coordination.k8s.io/v1/namespaces/{_seg(namespace)}/leases"
    return base + (f"/{_seg(name)}" if name else "")


def event_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{_seg(namespace)}/events"
    return base + (f"/{_seg(name)}" if name else "")
