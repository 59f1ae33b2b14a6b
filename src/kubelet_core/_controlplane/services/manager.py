"""ServiceControllers: the ``kubernetes`` Service and the EndpointSlice controller, as one part."""

from __future__ import annotations

from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.services.apiserver import reconcile_kubernetes_service
from kubelet_core._controlplane.services.endpointslices import EndpointSliceController
from kubelet_core._controlplane.store import Store


class ServiceControllers:
    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.registry = registry
        self.endpoint_slices = EndpointSliceController(store, registry, clock)

    async def start(self, host: str, port: int) -> ServiceControllers:
        """Publish the API server's Service, then keep the others' slices (for chaining)."""
        await reconcile_kubernetes_service(self.registry, host, port)
        self.endpoint_slices.start()
        return self

    async def stop(self) -> None:
        await self.endpoint_slices.stop()
