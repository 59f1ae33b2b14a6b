"""The ``kubernetes`` Service in ``default``: the API server, as clients expect to find it.

kube-apiserver keeps this Service (the range's first ClusterIP, port 443 named
``https``), its EndpointSlice and its v1 Endpoints (labelled
``endpointslice.kubernetes.io/skip-mirror: "true"``, as its endpoint reconciler writes
them, so no mirrored slice appears) pointing at its own address. Here the address is the
control plane's loopback listener; the port can change between runs (an ephemeral
port), so both are reconciled on every start.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.resources import (
    ENDPOINTS,
    ENDPOINTSLICES,
    SERVICES,
    ResourceType,
)
from kubelet_core._controlplane.services.allocation import first_ip
from kubelet_core._controlplane.services.endpointslices import SERVICE_NAME

KubeObject = dict[str, Any]
NAME, NAMESPACE = "kubernetes", "default"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"


def kubernetes_service(port: int) -> KubeObject:
    return {
        "metadata": {
            "name": NAME,
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": first_ip(),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    }


def kubernetes_endpoint_slice(host: str, port: int) -> KubeObject:
    return {
        "metadata": {"name": NAME, "labels": {SERVICE_NAME: NAME}},
        "addressType": "IPv6" if ":" in host else "IPv4",
        "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def kubernetes_endpoints(host: str, port: int) -> KubeObject:
    return {
        "metadata": {"name": NAME, "labels": {SKIP_MIRROR: "true"}},
        "subsets": [
            {
                "addresses": [{"ip": host}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }


async def _ensure(registry: Registry, rt: ResourceType, body: KubeObject, *keys: str) -> None:
    """Create ``body``, or bring the stored object's ``keys`` to it."""
    entry = registry.store.get(rt, NAMESPACE, NAME)
    if entry is None:
        await registry.create(rt, NAMESPACE, body)
        return
    current = entry.obj
    if rt is SERVICES:
        wanted = dict(current["spec"], ports=body["spec"]["ports"])
        if wanted != current["spec"]:
            await registry.update(rt, NAMESPACE, NAME, dict(current, spec=wanted))
        return
    if any(current.get(k) != body[k] for k in keys):
        await registry.update(rt, NAMESPACE, NAME, dict(current, **{k: body[k] for k in keys}))


async def reconcile_kubernetes_service(registry: Registry, host: str, port: int) -> None:
    with contextlib.suppress(ApiError):
        await _ensure(registry, SERVICES, kubernetes_service(port))
        await _ensure(
            registry,
            ENDPOINTSLICES,
            kubernetes_endpoint_slice(host, port),
            "addressType",
            "endpoints",
            "ports",
        )
        await _ensure(registry, ENDPOINTS, kubernetes_endpoints(host, port), "subsets")
