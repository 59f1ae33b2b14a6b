"""The module store: wasm modules pulled from OCI registries, cached by digest.

Shared by every provider (WASI, actors).  ``ModuleStore.pull`` implements the
image pull policies; ``credentials_from_pull_secrets`` reads imagePullSecrets.
"""

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
