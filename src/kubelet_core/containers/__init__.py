"""Running containers: the runtime contract and the shared, kubelet-shaped lifecycle.

:class:`ContainerProvider` is the base class for providers that run
containers themselves; they implement :class:`ContainerRuntime` (pull an
image, start a container) and inherit everything else.
"""

from kubelet_core.containers.backoff import BackoffPolicy, LifecycleTimings
from kubelet_core.containers.provider import ContainerProvider
from kubelet_core.containers.runtime import (
    ContainerLaunch,
    ContainerRuntime,
    ContainerUsage,
    ExitStatus,
    ImageRef,
    PullPolicy,
    RecoveredContainer,
    RunningContainer,
    VolumeMount,
)

__all__ = [
    "BackoffPolicy",
    "ContainerLaunch",
    "ContainerProvider",
    "ContainerRuntime",
    "ContainerUsage",
    "ExitStatus",
    "ImageRef",
    "LifecycleTimings",
    "PullPolicy",
    "RecoveredContainer",
    "RunningContainer",
    "VolumeMount",
]
