"""The capability-provider contract: what an actor reaches through ``__host_call``.

As in waSCC, a capability is a named service (``wascc:keyvalue``) that an
actor may invoke only if its signed claims list it.  One capability object
serves every actor on the node; each actor that claims it gets an
:class:`ActorBinding` (waSCC's ``set_binding``) whose configuration is the
pod's environment, merged as Krustlet did (``PORT`` for the HTTP server, for
instance).

:meth:`Capability.invoke` runs on the worker thread of the guest call that
made it, while the guest waits: it must be quick and thread safe.  A
capability whose backend is asynchronous hands the work to the event loop
with ``asyncio.run_coroutine_threadsafe(coro, host.loop).result(timeout)``.
``bind`` and ``unbind`` run on the event loop.

Capabilities are pluggable: a class is registered by its id in a
:class:`CapabilityRegistry` (the provider's ``capabilities`` option, or the
``wasmlet_wascc.capabilities`` entry point group for installed plugins).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import dataclasses
import importlib.metadata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar

from kubelet_core import EventType, KubeObject
from wasmlet_wascc.logfile import ContainerLog
from wasmlet_wascc.wapc import HostCallError

ENTRY_POINT_GROUP = "wasmlet_wascc.capabilities"


class CapabilityError(HostCallError):
    """A capability refused or failed an operation; the guest gets the message."""


class BindError(Exception):
    """An actor could not be bound (no port left...); the container does not start."""

    def __init__(self, message: str, *, reason: str = "CapabilityBindFailed") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class CapabilityHost:
    """What the provider gives every capability when the node starts."""

    node_ip: str
    loop: asyncio.AbstractEventLoop
    executor: concurrent.futures.Executor
    port_range: tuple[int, int]
    call_timeout: float


@dataclasses.dataclass
class ActorBinding:
    """One actor bound to one capability."""

    capability_id: str
    actor_key: str  # the actor's module public key (claims subject)
    actor_name: str
    pod: KubeObject
    container: KubeObject
    config: dict[str, str]  # the pod's env, plus what the provider adds
    log: ContainerLog
    call_actor: Callable[[str, bytes], Awaitable[bytes]]
    record_event: Callable[[EventType, str, str], None]
    name: str = "default"
    #: What the capability keeps for this binding (server, port...).
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Human-readable endpoints the binding serves, e.g. "http://127.0.0.1:30001".
    endpoints: list[str] = dataclasses.field(default_factory=list)

    @property
    def namespace(self) -> str:
        return str(self.pod.get("metadata", {}).get("namespace", "default"))

    @property
    def pod_name(self) -> str:
        return str(self.pod.get("metadata", {}).get("name", ""))


class Capability(abc.ABC):
    """A capability provider; subclass it and register it by ``capability_id``."""

    capability_id: ClassVar[str] = ""

    async def start(self, host: CapabilityHost) -> None:  # noqa: B027 - optional hook
        """The node is starting; keep ``host``."""

    async def bind(self, binding: ActorBinding) -> None:  # noqa: B027 - optional hook
        """An actor that claims this capability is starting (raise ``BindError`` to refuse)."""

    async def unbind(self, binding: ActorBinding, grace_period_seconds: float) -> None:  # noqa: B027
        """The actor is stopping; release what ``bind`` took, within the grace period."""

    @abc.abstractmethod
    def invoke(self, binding: ActorBinding, operation: str, payload: bytes) -> bytes:
        """Serve one host call (worker thread); raise ``CapabilityError`` to refuse."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """The node is stopping."""


CapabilityFactory = Callable[[], Capability]


class CapabilityRegistry:
    """Capability factories by id."""

    def __init__(self, factories: Mapping[str, CapabilityFactory] | None = None) -> None:
        self._factories: dict[str, CapabilityFactory] = dict(factories or {})

    def register(self, capability_id: str, factory: CapabilityFactory) -> None:
        self._factories[capability_id] = factory

    def ids(self) -> list[str]:
        return sorted(self._factories)

    def create(self, ids: Iterable[str] | None = None) -> dict[str, Capability]:
        chosen = self._factories if ids is None else {i: self._factories[i] for i in ids}
        return {capability_id: factory() for capability_id, factory in chosen.items()}

    def load_entry_points(self) -> None:
        """Add capabilities installed as plugins (entry point value: a Capability class)."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            self._factories.setdefault(entry_point.name, entry_point.load())
