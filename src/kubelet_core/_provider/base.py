"""The provider contract: what a node agent needs from whatever runs the pods.

A provider is the one thing a user writes to build their own kubelet.  The core
(registration, leases, node status, the pod watch, per-pod workers, status
writes, events, deletion, the kubelet API) is shared; only "how does a pod run
here" is the provider's.

The contract is deliberately small, in the spirit of Virtual Kubelet's
``PodLifecycleHandler``: create, update, delete, status, list, logs, shutdown,
and a static description of the node.  Everything takes and returns plain
Kubernetes JSON (``dict``) rather than generated client models: one ``V1Pod``
costs ~500 µs to deserialize, forty times a ``json.loads``, and the agent
handles every pod on every watch event.

A provider pushes status changes through :meth:`ProviderContext.notify_pod_status`
(like VK's ``PodNotifier``) instead of being polled, so an idle node makes no
calls at all.  Providers that run containers themselves should subclass
:class:`kubelet_core._containers.ContainerProvider`, which implements this whole
interface on top of a two-method container runtime and owns the shared
container lifecycle (init containers, restart policy, CrashLoopBackOff).
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    from kubelet_core._config import NodeConfig

#: A Kubernetes object as decoded JSON.
KubeObject = dict[str, Any]

EventType = Literal["Normal", "Warning"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@dataclasses.dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: TaintEffect = "NoSchedule"

    def to_json(self) -> KubeObject:
        data: KubeObject = {"key": self.key, "effect": self.effect}
        if self.value:
            data["value"] = self.value
        return data


@dataclasses.dataclass(frozen=True)
class NodeProfile:
    """What the node advertises for this provider.

    ``architecture`` becomes the ``kubernetes.io/arch`` label and
    ``status.nodeInfo.architecture``; ``taints`` keep ordinary (Linux container)
    pods away from a node that cannot run them.  ``capacity`` entries override
    or extend what the core measures on the host (cpu, memory, pods,
    ephemeral-storage).
    """

    architecture: str
    operating_system: str = "linux"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    capacity: Mapping[str, str] = dataclasses.field(default_factory=dict)
    runtime_version: str = ""  # e.g. "wasmtime://50.0.1" for nodeInfo.containerRuntimeVersion
    #: The RuntimeClass handlers this provider serves (``wasmlet-wasi``): a pod whose
    #: RuntimeClass names another one is rejected on this node.
    runtime_handlers: tuple[str, ...] = ()

    @classmethod
    def for_wasm_arch(
        cls, arch: str, *, runtime_version: str = "", runtime_handlers: tuple[str, ...] = ()
    ) -> NodeProfile:
        """The usual profile of a wasm node: arch label plus NoSchedule/NoExecute taints.

        Each runtime handler is advertised as a node label (:func:`handler_label`),
        which the RuntimeClass's ``scheduling.nodeSelector`` selects.
        """
        labels = {"kubernetes.io/arch": arch, "beta.kubernetes.io/arch": arch}
        labels.update({handler_label(handler): "true" for handler in runtime_handlers})
        return cls(
            architecture=arch,
            labels=labels,
            taints=(
                Taint("kubernetes.io/arch", arch, "NoSchedule"),
                Taint("kubernetes.io/arch", arch, "NoExecute"),
            ),
            runtime_version=runtime_version,
            runtime_handlers=runtime_handlers,
        )


#: Node labels ``<prefix><handler>: "true"`` advertise the runtime handlers a node serves.
RUNTIME_HANDLER_LABEL_PREFIX = "runtime-handler.wasmlet.dev/"


def handler_label(handler: str) -> str:
    """The node label that says a node serves RuntimeClass handler ``handler``."""
    return RUNTIME_HANDLER_LABEL_PREFIX + handler


@dataclasses.dataclass(frozen=True)
class LogOptions:
    """The query of ``/containerLogs`` (and ``kubectl logs``), already parsed."""

    follow: bool = False
    tail_lines: int | None = None
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: datetime.datetime | None = None
    limit_bytes: int | None = None
    previous: bool = False


@dataclasses.dataclass(frozen=True)
class LogPolicy:
    """Size-based rotation of container log files (kubelet's containerLogMax*).

    A container's current log file is rotated once it would grow past
    ``max_bytes``; at most ``max_files`` files (current included) are kept
    per container run.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_files: int = 5

    @classmethod
    def parse(cls, max_size: str, max_files: int) -> LogPolicy:
        """From the settings' strings, e.g. ``("10Mi", 5)``; raises ValueError."""
        from kubelet_core._quantity import quantity_bytes

        size = quantity_bytes(max_size)  # ValueError for a non-quantity
        if size < 1 or max_files < 1:
            raise ValueError(f"bad container log policy: size {max_size!r}, files {max_files}")
        return cls(size, int(max_files))


@dataclasses.dataclass(frozen=True)
class PodKey:
    namespace: str
    name: str
    uid: str = ""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class EventRecorder(Protocol):
    """Records a Kubernetes Event about a pod (rate-limited, never raises)."""

    def __call__(
        self, pod: KubeObject, event_type: EventType, reason: str, message: str
    ) -> None: ...


class StatusNotifier(Protocol):
    """Hands a pod's new status to the core, which writes it to the API.

    ``status`` is a (partial) ``PodStatus``: the provider fills ``phase``,
    ``containerStatuses``, ``initContainerStatuses`` and optionally ``reason``,
    ``message`` and ``conditions``; the core adds ``hostIP``/``podIP``(s),
    ``startTime`` and the standard conditions it can derive.  Never blocks.
    """

    def __call__(self, pod: KubeObject, status: KubeObject) -> None: ...


@dataclasses.dataclass(frozen=True)
class ProviderContext:
    """What the core gives a provider when the node starts."""

    node_name: str
    node_ip: str
    data_dir: Path
    notify_pod_status: StatusNotifier
    record_event: EventRecorder
    #: Shared content-addressed module/image store root (one per data dir).
    modules_dir: Path
    #: The core's API client (``kubelet_core._apiclient.KubeApi``), for providers
    #: that need to read objects (ConfigMaps, Secrets).  Typed loosely so the
    #: provider contract does not drag in the client.
    api: Any = None
    #: Registries pulled over plain HTTP (``NodeConfig.registries.insecure``).
    insecure_registries: tuple[str, ...] = ()
    #: How container log files are rotated (``NodeConfig.logs``).
    log_policy: LogPolicy = LogPolicy()
    #: Host directories ``hostPath`` volumes may use (``NodeConfig.host_paths.allowed``);
    #: empty: no hostPath volume at all.
    allowed_host_paths: tuple[str, ...] = ()
    #: Memory limit (bytes) of a container that sets no ``limits.memory``
    #: (``NodeConfig.pods.default_memory_limit``); None: unbounded.
    default_memory_limit: int | None = None
    #: Open files one container may hold (``NodeConfig.pods.max_open_files``).
    max_open_files: int | None = None
    #: User (and group) a container runs as when its pod sets no ``runAsUser``
    #: and the agent runs as root (``NodeConfig.pods.default_user``); None: the agent's.
    default_run_as_user: int | None = None
    #: Leave containers running when the agent stops, for the next agent to
    #: re-adopt (``NodeConfig.shutdown.keep_pods_on_exit``, kubelet's behaviour,
    #: never while draining); False stops them.
    keep_pods_on_exit: bool = False

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        api: Any,
        notify_pod_status: StatusNotifier,
        record_event: EventRecorder,
    ) -> ProviderContext:
        """The context of a node configured by ``config`` (the agent's one mapping)."""
        return cls(
            node_name=config.node_name,
            node_ip=config.identity.ip,
            data_dir=config.node_dir,
            notify_pod_status=notify_pod_status,
            record_event=record_event,
            modules_dir=config.modules_dir,
            api=api,
            insecure_registries=config.registries.insecure,
            log_policy=LogPolicy.parse(
                config.logs.container_log_max_size, config.logs.container_log_max_files
            ),
            allowed_host_paths=config.host_paths.allowed,
            default_memory_limit=config.pods.default_memory_limit_bytes,
            max_open_files=config.pods.max_open_files,
            default_run_as_user=config.pods.default_user,
            keep_pods_on_exit=config.shutdown.keep_pods_on_exit and not config.shutdown.drain,
        )


class Provider(abc.ABC):
    """Runs the pods bound to this node.  Subclass it, or ``ContainerProvider``.

    The core calls these from one worker per pod, so calls for the same pod
    never overlap; calls for different pods do.  Raise the errors in
    :mod:`kubelet_core._provider.errors` (``NotFound``, ``InvalidPodSpec``) for
    failures the user caused; the core turns them into pod status and Events.
    """

    #: The name used by ``--provider`` and the entry point.
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def node_profile(self) -> NodeProfile:
        """Architecture, labels, taints and capacity to advertise."""

    async def start(self, context: ProviderContext) -> None:  # noqa: B027 - optional hook
        """Called once before any pod; keep ``context`` to notify and record."""

    @abc.abstractmethod
    async def create_pod(self, pod: KubeObject) -> None:
        """Start running ``pod``.  Returns once it is accepted, not finished."""

    async def update_pod(self, pod: KubeObject) -> None:  # noqa: B027 - optional
        """The pod's spec or metadata changed (labels, annotations, image...)."""

    @abc.abstractmethod
    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        """Stop the pod's containers within the grace period and forget it.

        May be called more than once; a pod the provider does not know is not
        an error.
        """

    @abc.abstractmethod
    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        """The pod's current status (as for :class:`StatusNotifier`), or None if unknown."""

    @abc.abstractmethod
    async def list_pods(self) -> list[PodKey]:
        """Every pod the provider currently holds (used to clean up at start)."""

    async def container_logs(
        self, namespace: str, pod_name: str, container: str, options: LogOptions
    ) -> AsyncIterator[bytes]:
        """Stream a container's log.  Raise NotFound if there is none."""
        from kubelet_core._provider.errors import NotSupported

        raise NotSupported("this provider does not keep container logs")
        yield b""  # pragma: no cover - makes this an async generator

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """The agent is stopping; release what the provider holds."""

    def bundled_modules(self) -> Mapping[str, Path]:
        """Modules shipped with the provider for its examples: reference -> file.

        ``wasmlet up`` imports them into the module store, so the sample pods
        run without a registry.
        """
        return {}
