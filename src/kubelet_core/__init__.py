"""kubelet_core: build Kubernetes node agents (kubelets) in Python.

Subclass :class:`Provider` (or :class:`ContainerProvider` for a provider that
runs containers itself), then run it with :class:`NodeAgent` or the ``wasmlet``
binary.  See docs/architecture.md for the layers.
"""

from kubelet_core.provider import (
    ContainerConfigError,
    ContainerStartError,
    ImagePullError,
    InvalidPodSpec,
    LogOptions,
    NodeProfile,
    NotFound,
    NotSupported,
    PodKey,
    Provider,
    ProviderContext,
    ProviderError,
    Taint,
)

__all__ = [
    "ContainerConfigError",
    "ContainerProvider",
    "ContainerStartError",
    "ImagePullError",
    "InvalidPodSpec",
    "LogOptions",
    "NodeAgent",
    "NodeProfile",
    "NodeSettings",
    "NotFound",
    "NotSupported",
    "PodKey",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "Taint",
]


_LAZY = {
    "NodeAgent": "kubelet_core.agent",
    "ContainerProvider": "kubelet_core.containers",
    "NodeSettings": "kubelet_core.config",
}


def __getattr__(name: str) -> object:
    """Heavier parts load on first use, so ``import kubelet_core`` stays cheap."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kubelet_core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
