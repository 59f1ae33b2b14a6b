"""WasccProvider: runs signed waSCC actors (waPC modules) as Kubernetes containers.

The Python counterpart of Krustlet's waSCC provider.  It subclasses
:class:`~kubelet_core._containers.ContainerProvider`, which owns the pod
lifecycle (restart policy, states, back-off, log files), and implements the
runtime half:

* :meth:`pull_image` fetches the module through the node's
  :class:`~kubelet_core._modules.ModuleStore` (OCI registries, pull policies,
  imagePullSecrets), or reads ``file://`` paths when local modules are allowed;
* :meth:`start_container` verifies the actor's signed claims (nothing unsigned,
  tampered, expired, not yet valid or from an issuer outside
  ``allowed_issuers`` ever runs: the container terminates with the claims
  error's reason, e.g. ``InvalidActorSignature``, plus a Warning event),
  compiles and instantiates it, and binds the capabilities its claims list,
  with the pod's env as their configuration.

The node advertises ``kubernetes.io/arch=wasm32-wascc`` with NoSchedule and
NoExecute taints, so only pods that tolerate them (and select the arch) land
here.  Actors take no args or command, and cannot be init containers: they
are long-running services, so such pods fail with ``InvalidPodSpec``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from kubelet_core import (
    ContainerStartError,
    ImagePullError,
    InvalidPodSpec,
    KubeObject,
    NodeProfile,
    ProviderContext,
)
from kubelet_core.containers import (
    ContainerLaunch,
    ContainerProvider,
    ImagePull,
    ImageRef,
    ModuleStore,
    RunningContainer,
)
from kubelet_core.containers import quantity_bytes as parse_bytes
from wasmlet_wascc.actor import RunningActor
from wasmlet_wascc.capabilities import (
    ActorBinding,
    BindError,
    Capability,
    CapabilityHost,
    CapabilityRegistry,
    default_registry,
)
from wasmlet_wascc.claims import ActorClaims, ClaimsError, verify_actor
from wasmlet_wascc.logfile import ContainerLog
from wasmlet_wascc.pool import ActorPool
from wasmlet_wascc.settings import WasccSettings
from wasmlet_wascc.wapc import InvalidActorModule, WapcInstance, WapcRuntime, wasmtime_version

ARCH = "wasm32-wascc"
#: Signed copies of testdata/actors/{echo,counter}.wasm (test issuer) for ``wasmlet up``.
_BUNDLED = Path(__file__).parent / "modules"
log = structlog.get_logger(__name__)


class WasccProvider(ContainerProvider):
    """Runs waSCC actors; options as in :class:`WasccSettings` (keywords or env)."""

    name = "wascc"
    container_id_scheme = "wascc"

    def __init__(
        self,
        *,
        settings: WasccSettings | None = None,
        capabilities: CapabilityRegistry | None = None,
        module_store: ModuleStore | None = None,
        **options: Any,
    ) -> None:
        timings = options.pop("timings", None)
        super().__init__(timings=timings)
        self.settings = settings or WasccSettings(**options)
        self.registry = capabilities or default_registry()
        self._store = module_store
        self._own_store = module_store is None
        self.runtime: WapcRuntime | None = None
        self.capabilities: dict[str, Capability] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.actors: dict[tuple[str, str], RunningActor] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch(
            ARCH,
            runtime_version=f"wasmtime://{wasmtime_version()}",
            runtime_handlers=("wasmlet-wascc",),
        )

    def bundled_modules(self) -> Mapping[str, Path]:
        """The example actors, signed by the repository's *test* issuer.

        They run under ``wasmlet up`` because an empty allow-list accepts any
        valid signature; a node with ``allowed_issuers`` set refuses them.
        """
        return {
            "examples.wasmlet.dev/echo-actor:v1": _BUNDLED / "echo.wasm",
            "examples.wasmlet.dev/counter-actor:v1": _BUNDLED / "counter.wasm",
        }

    # -- lifecycle of the node -----------------------------------------------------------------

    async def start(self, context: ProviderContext) -> None:
        await super().start(context)
        settings = self.settings
        if not settings.allowed_issuers:
            log.warning(
                "wascc: no allowed_issuers configured; any validly signed actor may run "
                "(set WASMLET_WASCC_ALLOWED_ISSUERS to restrict)"
            )
        self._executor = concurrent.futures.ThreadPoolExecutor(
            settings.call_threads, thread_name_prefix="wascc-call"
        )
        self.runtime = WapcRuntime(
            tick_seconds=settings.epoch_tick_seconds,
            cache_dir=context.data_dir / "wascc" / "compiled",
        )
        if self._store is None:
            # The node's --insecure-registries apply to actors too, plus our own setting.
            insecure = (*settings.insecure_registries, *context.insecure_registries)
            self._store = ModuleStore(context.modules_dir, insecure_registries=insecure)
        host = CapabilityHost(
            node_ip=context.node_ip,
            loop=asyncio.get_running_loop(),
            executor=self._executor,
            port_range=settings.port_range,
            call_timeout=settings.call_timeout_seconds,
        )
        self.capabilities = self.registry.create()
        for capability in self.capabilities.values():
            await capability.start(host)

    async def shutdown(self) -> None:
        await super().shutdown()
        for capability in self.capabilities.values():
            try:
                await capability.close()
            except Exception:
                log.exception("closing a capability failed")
        if self._store is not None and self._own_store:
            await self._store.aclose()
        if self.runtime is not None:
            self.runtime.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- ContainerRuntime ----------------------------------------------------------------------

    async def pull_image(self, pull: ImagePull) -> ImageRef:
        image = pull.image
        if image.startswith("file://"):
            return await self._local_module(image)
        if self._store is None:
            raise ImagePullError("the provider has not started", retryable=True)
        stored = await self._store.pull(image, pull.policy, pull.credentials)
        return ImageRef(reference=image, image_id=stored.image_id, local_path=stored.path)

    async def _local_module(self, image: str) -> ImageRef:
        if not self.settings.allow_local_modules:
            raise ImagePullError(
                f"{image}: file:// modules are disabled on this node "
                "(WASMLET_WASCC_ALLOW_LOCAL_MODULES)",
                retryable=False,
                reason="ErrImagePull",
            )
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(image).path))
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise ImagePullError(f"cannot read {path}: {error.strerror}") from None
        return ImageRef(image, f"sha256:{hashlib.sha256(data).hexdigest()}", path)

    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        assert self.runtime is not None and self._executor is not None, "start() first"
        self._check_spec(launch)
        module = await self._read_module(launch.image)
        try:
            claims = await asyncio.to_thread(
                verify_actor, module, allowed_issuers=self.settings.allowed_issuers
            )
        except ClaimsError as error:
            self._event(launch.pod, "Warning", error.reason, error.message)
            _note(launch, f"refusing to run the actor: {error.reason}: {error.message}")
            raise ContainerStartError(error.message, reason=error.reason) from None
        try:
            pre = await asyncio.to_thread(self.runtime.load, module)
        except InvalidActorModule as error:
            raise ContainerStartError(str(error), reason="InvalidActorModule") from None
        missing = [c for c in claims.capabilities if c not in self.capabilities]
        if missing:
            message = f"capabilities not available on this node: {', '.join(missing)}"
            self._event(launch.pod, "Warning", "CapabilityNotAvailable", message)
            raise ContainerStartError(message, reason="CapabilityNotAvailable")

        log_file = ContainerLog(launch.log_path, self.context.log_policy)
        runtime = self.runtime
        memory_limit = self._memory_limit(launch.limits)
        timeout = self.settings.call_timeout_seconds

        def new_instance() -> WapcInstance:
            return runtime.instantiate(
                pre,
                host_call=actor.host_call,
                console_log=actor.console_log,
                init_timeout=timeout,
                memory_limit=memory_limit,
            )

        pool = ActorPool(
            new_instance,
            size=self.settings.instances_per_actor,
            call_timeout=timeout,
            executor=self._executor,
        )
        bindings = {
            capability_id: self._binding(launch, claims, capability_id, log_file, pool)
            for capability_id in claims.capabilities
        }
        actor = RunningActor(
            claims=claims,
            pool=pool,
            capabilities=self.capabilities,
            bindings=bindings,
            log=log_file,
            max_traps=self.settings.max_traps,
            trap_window_seconds=self.settings.trap_window_seconds,
        )
        pool.on_trap = actor.on_trap
        log_file.note(f"starting actor {actor.name} ({claims.subject}), issuer {claims.issuer}")
        try:
            await actor.start()
        except InvalidActorModule as error:
            raise ContainerStartError(str(error), reason="InvalidActorModule") from None
        except BindError as error:
            self._event(launch.pod, "Warning", error.reason, error.message)
            raise ContainerStartError(error.message, reason=error.reason) from None
        key = (launch.pod_uid, launch.name)
        self.actors[key] = actor
        task = asyncio.get_running_loop().create_task(self._forget(key, actor))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return actor

    async def _forget(self, key: tuple[str, str], actor: RunningActor) -> None:
        await actor.wait()
        if self.actors.get(key) is actor:
            del self.actors[key]

    # -- helpers -------------------------------------------------------------------------------

    def _check_spec(self, launch: ContainerLaunch) -> None:
        spec = launch.pod.get("spec") or {}
        if any(c.get("name") == launch.name for c in spec.get("initContainers") or []):
            raise InvalidPodSpec(
                "actors are long-running services and cannot be init containers",
                reason="InitContainerNotSupported",
            )
        if launch.command or launch.args:
            raise InvalidPodSpec(
                f"container {launch.name}: actors take no command or args; "
                "configure them through env",
                reason="ArgsNotSupported",
            )

    async def _read_module(self, image: ImageRef) -> bytes:
        if image.local_path is None:
            raise ContainerStartError(f"image {image.reference} has no local module")
        try:
            return await asyncio.to_thread(image.local_path.read_bytes)
        except OSError as error:
            raise ContainerStartError(f"cannot read the module: {error}") from None

    def _memory_limit(self, limits: Mapping[str, str]) -> int:
        if "memory" in limits:
            try:
                return parse_bytes(limits["memory"])
            except ValueError:
                pass
        return self.settings.memory_limit_bytes

    def _binding(
        self,
        launch: ContainerLaunch,
        claims: ActorClaims,
        capability_id: str,
        log_file: ContainerLog,
        pool: ActorPool,
    ) -> ActorBinding:
        pod = launch.pod
        return ActorBinding(
            capability_id=capability_id,
            actor_key=claims.subject,
            actor_name=claims.name or claims.subject,
            pod=pod,
            container=launch.container,
            config=dict(launch.env),
            log=log_file,
            call_actor=pool.call,
            record_event=lambda kind, reason, message: self._event(pod, kind, reason, message),
        )

    def _event(self, pod: KubeObject, kind: Any, reason: str, message: str) -> None:
        try:
            self.context.record_event(pod, kind, reason, message)
        except Exception:
            log.exception("recording an event failed", reason=reason)


def _note(launch: ContainerLaunch, text: str) -> None:
    """A ``wasmlet:`` line in the container's log, for ``kubectl logs``."""
    log_file = ContainerLog(launch.log_path)
    try:
        log_file.note(text)
    finally:
        log_file.close()
