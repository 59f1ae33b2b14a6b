"""Running containers: the runtime contract and the shared, kubelet-shaped lifecycle.

:class:`ContainerProvider` is the base class for providers that run
containers themselves; they implement :class:`ContainerRuntime` (pull an
image, start a container) and inherit everything else.  This module is the
whole public face a runtime needs: the runtime types, where output goes
(:class:`LogWriter`), the image-pull helpers (:class:`ModuleStore`,
:class:`ImageReference`, pull-secret credentials), safe path resolution for
mounts (:func:`open_beneath`), the container's identity, and the quantity
parsers for ``resources.limits``.
"""

from typing import TYPE_CHECKING

from kubelet_core._containers.backoff import BackoffPolicy, LifecycleTimings
from kubelet_core._containers.identity import ProcessIdentity
from kubelet_core._containers.logs import LogWriter
from kubelet_core._containers.runtime import (
    ContainerLaunch,
    ContainerRuntime,
    ContainerUsage,
    ExitStatus,
    ImagePull,
    ImageRef,
    PullPolicy,
    RecoveredContainer,
    RunningContainer,
    VolumeMount,
)
from kubelet_core._lazy import lazy_exports
from kubelet_core._modules.credentials import RegistryCredentials, credentials_from_pull_secrets
from kubelet_core._modules.reference import ImageReference
from kubelet_core._quantity import quantity_bytes, quantity_cores
from kubelet_core._volumes.safepath import PathEscapeError, open_beneath

if TYPE_CHECKING:  # loaded on first use: the lifecycle and the store bring the API client
    from kubelet_core._containers.provider import ContainerProvider
    from kubelet_core._modules.store import ModuleStore

__all__ = [
    "BackoffPolicy",
    "ContainerLaunch",
    "ContainerProvider",
    "ContainerRuntime",
    "ContainerUsage",
    "ExitStatus",
    "ImagePull",
    "ImageRef",
    "ImageReference",
    "LifecycleTimings",
    "LogWriter",
    "ModuleStore",
    "PathEscapeError",
    "ProcessIdentity",
    "PullPolicy",
    "RecoveredContainer",
    "RegistryCredentials",
    "RunningContainer",
    "VolumeMount",
    "credentials_from_pull_secrets",
    "open_beneath",
    "quantity_bytes",
    "quantity_cores",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "kubelet_core._containers.provider": ("ContainerProvider",),
        "kubelet_core._modules.store": ("ModuleStore",),
    },
)
