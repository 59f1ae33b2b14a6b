"""kubelet_core: build Kubernetes node agents (kubelets) in Python.

Subclass :class:`Provider` (or :class:`ContainerProvider` for a provider that
runs containers itself), then run it in one call::

    kubelet_core.run(MyProvider(), NodeConfig(identity=IdentityConfig(name="edge-1")))

or with ``await NodeAgent(provider, config).run()``, or the ``wasmlet`` binary.
The config is plain frozen dataclasses grouped by concern; the library never
reads the environment.  See docs/embedding.md and docs/architecture.md.

The public API is this module, :mod:`kubelet_core.containers` (for providers
that run containers: runtime types, the log writer, image-pull helpers) and
:mod:`kubelet_core.testing`; everything else is internal and may change
between releases.  ``tests/test_public_api.py`` holds the surface to account.
"""

from typing import TYPE_CHECKING

from kubelet_core._config import (
    ApiClientConfig,
    HeartbeatConfig,
    HostPathsConfig,
    IdentityConfig,
    KubeletApiConfig,
    LogsConfig,
    NodeConfig,
    PodLimitsConfig,
    RegistriesConfig,
    ShutdownConfig,
    StorageConfig,
)
from kubelet_core._lazy import lazy_exports
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
    from kubelet_core._agent import NodeAgent, run
    from kubelet_core._fleet import NodeFleet
    from kubelet_core._lifecycle import ControllerFailed
    from kubelet_core.containers import ContainerProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "ApiClientConfig",
    "ContainerConfigError",
    "ContainerProvider",
    "ContainerStartError",
    "ContainerStats",
    "ControllerFailed",
    "EventType",
    "HeartbeatConfig",
    "HostPathsConfig",
    "IdentityConfig",
    "ImagePullError",
    "InvalidPodSpec",
    "KubeObject",
    "KubeletApiConfig",
    "LogOptions",
    "LogPolicy",
    "LogsConfig",
    "NodeAgent",
    "NodeConfig",
    "NodeFleet",
    "NodeProfile",
    "NotFound",
    "NotSupported",
    "PodKey",
    "PodLimitsConfig",
    "PodStats",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "RegistriesConfig",
    "ShutdownConfig",
    "StatsProvider",
    "StorageConfig",
    "Taint",
    "available_providers",
    "load_provider",
    "run",
]


# Heavier parts load on first use, so ``import kubelet_core`` stays cheap.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "kubelet_core._agent": ("NodeAgent", "run"),
        "kubelet_core._fleet": ("NodeFleet",),
        "kubelet_core.containers": ("ContainerProvider",),
        "kubelet_core._lifecycle": ("ControllerFailed",),
    },
)
