"""The two-method container runtime that ``ContainerProvider`` builds on.

A provider that runs containers itself (the WASI and actor providers) should
not re-implement restart policies, init-container ordering, CrashLoopBackOff
or container-state bookkeeping: those are Kubernetes semantics, shared, and
live in :mod:`kubelet_core._containers.lifecycle`.  Such a provider implements
only:

* :meth:`ContainerRuntime.pull_image` -- make the container's image (a wasm
  module) available locally, raising ``ImagePullError`` on failure; the
  core has already turned the pod's ``imagePullSecrets`` into the
  credentials for the image's registry;
* :meth:`ContainerRuntime.start_container` -- start one container from a fully
  resolved :class:`ContainerLaunch` and return a :class:`RunningContainer`.

Everything in a ``ContainerLaunch`` is already resolved by the core: env values
(``$(VAR)`` expanded, ``valueFrom`` looked up), volume mounts as host
directories, the log file to write stdout and stderr into.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

from kubelet_core._apiclient.objects import uid
from kubelet_core._containers.identity import ProcessIdentity
from kubelet_core._modules.credentials import RegistryCredentials
from kubelet_core._provider.base import KubeObject

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclasses.dataclass(frozen=True)
class VolumeMount:
    """A host directory (or file) the container sees at ``container_path``."""

    host_path: Path
    container_path: str
    read_only: bool = False
    # The trusted directory host_path must stay beneath (the volume's own directory, or
    # the allowed hostPath): a runtime re-opens host_path beneath it at start
    # (safepath.open_beneath) so a link planted after the check cannot redirect it.
    root: Path | None = None


@dataclasses.dataclass(frozen=True)
class ImageRef:
    """The image a container runs, as resolved by ``pull_image``."""

    reference: str  # what the pod asked for, e.g. "127.0.0.1:5000/hello:v1"
    image_id: str  # content-addressed id, e.g. "sha256:..." (goes to status.imageID)
    local_path: Path | None = None  # where the runtime finds the module bytes


@dataclasses.dataclass(frozen=True)
class ImagePull:
    """One image pull, resolved by the core: what to pull, by which policy, as whom."""

    pod: KubeObject
    container: KubeObject  # the container's JSON from the pod spec
    image: str  # container.image, e.g. "127.0.0.1:5000/hello:v1"
    policy: PullPolicy  # imagePullPolicy, defaulted as the API server does
    #: The login for the image's registry from the pod's ``imagePullSecrets``
    #: (None: pull anonymously).  The core reads the Secrets; a runtime never does.
    credentials: RegistryCredentials | None = None


@dataclasses.dataclass(frozen=True)
class ContainerLaunch:
    """Everything needed to start one container, resolved by the core."""

    pod: KubeObject
    container: KubeObject  # the container's JSON from the pod spec
    image: ImageRef
    command: Sequence[str]  # container.command, [] if unset
    args: Sequence[str]  # container.args with $(VAR) expanded, [] if unset
    env: Sequence[tuple[str, str]]  # in order, resolved and expanded
    mounts: Sequence[VolumeMount]
    working_dir: str | None
    log_path: Path  # append stdout and stderr here (the core serves it as the log)
    restart_count: int
    limits: Mapping[str, str]  # resources.limits, e.g. {"memory": "64Mi", "cpu": "500m"}
    deadline_seconds: float | None  # CPU-time budget left from activeDeadlineSeconds
    #: The user and groups to run as (:mod:`kubelet_core._containers.identity`).
    identity: ProcessIdentity = dataclasses.field(default_factory=ProcessIdentity)

    @property
    def name(self) -> str:
        return str(self.container["name"])

    @property
    def pod_uid(self) -> str:
        return uid(self.pod)


@dataclasses.dataclass(frozen=True)
class ExitStatus:
    """How a container ended: feeds the container's ``terminated`` state."""

    exit_code: int
    reason: str = (
        ""  # "Completed" / "Error" / "OOMKilled" / "DeadlineExceeded"...; derived if empty
    )
    message: str = ""
    signal: int | None = None

    @property
    def effective_reason(self) -> str:
        if self.reason:
            return self.reason
        return "Completed" if self.exit_code == 0 else "Error"


@dataclasses.dataclass(frozen=True)
class ContainerUsage:
    """Resource usage of a running container, for stats (best effort)."""

    cpu_seconds: float = 0.0
    memory_bytes: int = 0


class RunningContainer(abc.ABC):
    """A started container."""

    @abc.abstractmethod
    async def wait(self) -> ExitStatus:
        """Wait until the container ends, however it ends (never raises)."""

    @abc.abstractmethod
    async def stop(self, grace_period_seconds: float) -> None:
        """Ask it to stop; force it after the grace period.  ``wait`` then returns."""

    def usage(self) -> ContainerUsage:
        return ContainerUsage()


@dataclasses.dataclass(frozen=True)
class RecoveredContainer:
    """A run found again after an agent restart (see ``ContainerRuntime.recover_container``).

    Exactly one of ``running`` (it still runs: the lifecycle waits on it as on a
    container it started) and ``exit`` (it ended while the agent was away, or
    its state is lost) is set.
    """

    started_at: str  # RFC 3339, when the run started
    running: RunningContainer | None = None
    exit: ExitStatus | None = None
    finished_at: str = ""  # RFC 3339, when it ended (with ``exit``)
    image: ImageRef | None = None  # the image it runs, when the runtime knows it


class ContainerRuntime(abc.ABC):
    """What a container-running provider implements (see module docstring).

    Two optional abilities let containers outlive the agent, as a container
    runtime's do under kubelet: a runtime whose containers keep running when
    the agent stops sets :attr:`survives_agent_restart` and implements
    :meth:`recover_container` and :meth:`discard_containers`.
    """

    #: Containers keep running when the agent stops; a restarted agent re-adopts them.
    survives_agent_restart: ClassVar[bool] = False

    @abc.abstractmethod
    async def pull_image(self, pull: ImagePull) -> ImageRef:
        """Make ``pull.image`` available locally; raise ``ImagePullError`` if it cannot be."""

    @abc.abstractmethod
    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        """Start the container; raise ``ContainerStartError`` if it cannot start."""

    async def recover_container(
        self, pod: KubeObject, name: str, restart: int
    ) -> RecoveredContainer | None:
        """Run ``restart`` of container ``name`` from before an agent restart, or None.

        Called once per container when a pod is created on the node while its
        runs are already on disk (the agent restarted): a container that still
        runs is adopted instead of started again, one that ended meanwhile is
        reported with how it ended, and its restart policy decides what is next.
        A run the runtime has no record of returns None (it is started anew).
        """
        return None

    async def discard_containers(self, keep_pod_uids: set[str]) -> None:
        """Stop and forget every surviving container of pods not in ``keep_pod_uids``.

        Called once at start, after listing the node's pods: containers of pods
        deleted while the agent was away must not run on.
        """
        return None  # nothing survives a runtime that does not set survives_agent_restart
