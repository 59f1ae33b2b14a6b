"""kubelet_core: build Kubernetes node agents (kubelets) in Python.

Subclass :class:`Provider` (or :class:`ContainerProvider` for a provider that
runs containers itself), then run it with :class:`NodeAgent` or the ``wasmlet``
binary.  See docs/architecture.md for the layers.

The public API is this module, :mod:`kubelet_core.containers` (for providers
that run containers: runtime types, the log writer, image-pull helpers) and
:mod:`kubelet_core.testing`; everything else is internal and may change
between releases.  ``tests/test_public_api.py`` holds the surface to account.
"""

from typing import TYPE_CHECKING

from kubelet_core._provider.base import (
    EventType,
    KubeObject,
    LogOptions,
    LogPolicy,
    NodeProfile,
    PodKey,
    Provider,
    ProviderContext,
    Taint,
)
from kubelet_core._provider.discovery import ENTRY_POINT_GROUP, available_providers, load_provider
from kubelet_core._provider.errors import (
    ContainerConfigError,
    ContainerStartError,
    ImagePullError,
    InvalidPodSpec,
    NotFound,
    NotSupported,
    ProviderError,
)
from kubelet_core._provider.stats import ContainerStats, PodStats, StatsProvider

if TYPE_CHECKING:  # real types for type checkers; loaded lazily at run time (see below)
    from kubelet_core._agent import NodeAgent
    from kubelet_core._config import NodeSettings
    from kubelet_core.containers import ContainerProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "ContainerConfigError",
    "ContainerProvider",
    "ContainerStartError",
    "ContainerStats",
    "EventType",
    "ImagePullError",
    "InvalidPodSpec",
    "KubeObject",
    "LogOptions",
    "LogPolicy",
    "NodeAgent",
    "NodeProfile",
    "NodeSettings",
    "NotFound",
    "NotSupported",
    "PodKey",
    "PodStats",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "StatsProvider",
    "Taint",
    "available_providers",
    "load_provider",
]


_LAZY = {
    "NodeAgent": "kubelet_core._agent",
    "ContainerProvider": "kubelet_core.containers",
    "NodeSettings": "kubelet_core._config",
}


def __getattr__(name: str) -> object:
    """Heavier parts load on first use, so ``import kubelet_core`` stays cheap."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kubelet_core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
