"""The provider contract and how providers are found (entry points)."""

from kubelet_core._provider.base import (
    EventRecorder,
    KubeObject,
    LogOptions,
    NodeProfile,
    PodKey,
    Provider,
    ProviderContext,
    StatusNotifier,
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

__all__ = [
    "ENTRY_POINT_GROUP",
    "ContainerConfigError",
    "ContainerStartError",
    "EventRecorder",
    "ImagePullError",
    "InvalidPodSpec",
    "KubeObject",
    "LogOptions",
    "NodeProfile",
    "NotFound",
    "NotSupported",
    "PodKey",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "StatusNotifier",
    "Taint",
    "available_providers",
    "load_provider",
]
