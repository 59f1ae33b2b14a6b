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
    "ContainerStartError",
    "ImagePullError",
    "InvalidPodSpec",
    "LogOptions",
    "NodeProfile",
    "NotFound",
    "NotSupported",
    "PodKey",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "Taint",
]
