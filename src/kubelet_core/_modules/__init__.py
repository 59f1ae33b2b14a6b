"""The module store: wasm modules pulled from OCI registries, cached by digest.

Shared by every provider (WASI, actors).  ``ModuleStore.pull`` implements the
image pull policies; ``credentials_from_pull_secrets`` reads imagePullSecrets.

Everything here loads on first use (see :mod:`kubelet_core._lazy`): the
registry client brings aiohttp, which a module host must not import.
"""

from typing import TYPE_CHECKING

from kubelet_core._lazy import lazy_exports

if TYPE_CHECKING:
    from kubelet_core._modules.client import RegistryClient
    from kubelet_core._modules.credentials import (
        RegistryCredentials,
        credentials_from_pull_secrets,
        normalize_registry_host,
    )
    from kubelet_core._modules.oci import WASM_CONFIG, WASM_LAYER
    from kubelet_core._modules.reference import ImageReference
    from kubelet_core._modules.store import GcResult, ModuleStore, StoredModule, StoreStats

__all__ = [
    "WASM_CONFIG",
    "WASM_LAYER",
    "GcResult",
    "ImageReference",
    "ModuleStore",
    "RegistryClient",
    "RegistryCredentials",
    "StoreStats",
    "StoredModule",
    "credentials_from_pull_secrets",
    "normalize_registry_host",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "kubelet_core._modules.client": ("RegistryClient",),
        "kubelet_core._modules.credentials": (
            "RegistryCredentials",
            "credentials_from_pull_secrets",
            "normalize_registry_host",
        ),
        "kubelet_core._modules.oci": ("WASM_CONFIG", "WASM_LAYER"),
        "kubelet_core._modules.reference": ("ImageReference",),
        "kubelet_core._modules.store": ("GcResult", "ModuleStore", "StoredModule", "StoreStats"),
    },
)
