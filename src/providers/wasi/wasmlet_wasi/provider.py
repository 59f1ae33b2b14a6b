"""WasiProvider: runs WASI command modules and components as pod containers, on wasmtime.

The Kubernetes side (init containers, restarts, back-off, states, logs,
volumes) is inherited from :class:`ContainerProvider`; this class only pulls
modules through the shared :class:`ModuleStore` and starts them with
:mod:`wasmlet_wasi.runtime`.

* Node: architecture ``wasm32-wasi``, tainted so container pods stay away,
  ``containerRuntimeVersion`` ``wasmtime://<version>``.
* Images: wasm-to-oci references pulled per ``imagePullPolicy``, logged in
  with the credentials the core found in the pod's ``imagePullSecrets``.
* Containers: each in a module host process of its own, forked by the
  provider's zygote (:mod:`wasmlet_wasi.zygote`) and confined by the kernel
  (:mod:`wasmlet_wasi.sandbox`, docs/security.md); argv per
  :func:`~wasmlet_wasi.runtime.guest_argv`, env, volume mounts as preopened
  directories (``readOnly`` honoured), stdout+stderr into the run's log file,
  ``limits.memory`` (the node's ``pod_default_memory_limit`` when unset),
  ``limits.cpu`` and the ``activeDeadlineSeconds`` CPU budget.
* Components (WASI 0.2 ``wasi:cli/command``, told from modules by their
  binary header) run the same way; network is off unless the pod's
  annotations grant it (:mod:`wasmlet_wasi.network`).
* Hosts outlive the agent: a restarted agent re-adopts running containers
  (:meth:`WasiProvider.recover_container`) and kills those of pods deleted
  meanwhile (:meth:`WasiProvider.discard_containers`).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import structlog

from kubelet_core import (
    ContainerStartError,
    ImagePullError,
    KubeObject,
    NodeProfile,
    ProviderContext,
)
from kubelet_core.containers import (
    ContainerLaunch,
    ContainerProvider,
    ExitStatus,
    ImagePull,
    ImageRef,
    LifecycleTimings,
    ModuleStore,
    RecoveredContainer,
    RunningContainer,
)
from kubelet_core.containers import quantity_bytes as memory_bytes
from kubelet_core.containers import quantity_cores as cpu_cores
from wasmlet_wasi.engine import is_component, wasmtime_version
from wasmlet_wasi.network import grant_for
from wasmlet_wasi.runs import RunDir, open_live_host, pod_uids, remove_pod, runs_of_pod
from wasmlet_wasi.runtime import ModuleHosts, ModuleSpec, WasiContainer, guest_argv

log = structlog.get_logger(__name__)

ARCH = "wasm32-wasi"
_BUNDLED = Path(__file__).parent / "modules"


class WasiProvider(ContainerProvider):
    """The ``wasi`` provider (entry point ``kubelet_core.providers:wasi``)."""

    name: ClassVar[str] = "wasi"
    container_id_scheme: ClassVar[str] = "wasi"
    survives_agent_restart: ClassVar[bool] = True

    def __init__(
        self,
        *,
        timings: LifecycleTimings | None = None,
        insecure_registries: Sequence[str] = (),
        module_budget_bytes: int | None = None,
    ) -> None:
        super().__init__(timings=timings)
        self._insecure = tuple(insecure_registries)
        #: When set, the module store is garbage-collected down to this size after
        #: each pull that downloaded something (modules of running containers stay).
        self.module_budget_bytes = module_budget_bytes
        self.modules: ModuleStore | None = None
        self.hosts: ModuleHosts | None = None
        self.running: dict[WasiContainer, str] = {}  # running host -> module digest

    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch(
            ARCH,
            runtime_version=f"wasmtime://{wasmtime_version()}",
            runtime_handlers=("wasmlet-wasi",),
        )

    def bundled_modules(self) -> Mapping[str, Path]:
        return {
            "examples.wasmlet.dev/hello-wasi:v1": _BUNDLED / "hello.wasm",
            "examples.wasmlet.dev/wasi-script:v1": _BUNDLED / "scripted.wasm",
        }

    async def start(self, context: ProviderContext) -> None:
        self.context = context
        insecure = (*self._insecure, *context.insecure_registries)
        self.modules = ModuleStore(context.modules_dir, insecure_registries=insecure)
        wasi_dir = context.data_dir / "wasi"
        wasi_dir.mkdir(parents=True, exist_ok=True)
        self.hosts = ModuleHosts(wasi_dir / "compiled", log_path=wasi_dir / "zygote.log")
        await self.hosts.start()
        await super().start(context)

    @property
    def runs_root(self) -> Path:
        return self.context.data_dir / "wasi" / "runs"

    async def shutdown(self) -> None:
        await super().shutdown()
        for container in list(self.running):
            container.detach()  # still running only if keep_pods_on_exit left it so
        self.running.clear()
        if self.hosts is not None:
            await self.hosts.close()
        if self.modules is not None:
            await self.modules.aclose()

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        try:
            await super().delete_pod(pod, grace_period_seconds)
        finally:  # whatever failed above, no host of a deleted pod runs on
            uid = str((pod.get("metadata") or {}).get("uid") or "")
            if uid:  # a pod deleted before this agent re-adopted it may still have hosts
                await asyncio.to_thread(_kill_and_forget, self.runs_root, uid)

    # -- ContainerRuntime ----------------------------------------------------------

    async def pull_image(self, pull: ImagePull) -> ImageRef:
        modules = self._modules()
        image = pull.image
        downloaded = modules.stats.bytes_downloaded
        stored = await modules.pull(image, pull.policy, pull.credentials)
        if self.module_budget_bytes is not None and modules.stats.bytes_downloaded > downloaded:
            keep = set(self.running.values()) | {stored.digest}
            await modules.gc(self.module_budget_bytes, keep=keep)
        return ImageRef(reference=image, image_id=stored.image_id, local_path=stored.path)

    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        if self.hosts is None:
            raise RuntimeError("WasiProvider.start() has not been called")
        stored = self._modules().get(launch.image.reference)
        path = launch.image.local_path
        if path is None:
            if stored is None:
                raise ContainerStartError(f"module {launch.image.reference} is not in the store")
            path = stored.path
        memory_limit = _limit(launch.limits, "memory", memory_bytes)
        if memory_limit is None:
            memory_limit = self.context.default_memory_limit
        run = RunDir.of(self.runs_root, launch.pod_uid, launch.name, launch.restart_count)
        spec = ModuleSpec(
            name=launch.name,
            module_path=path,
            argv=guest_argv(launch.name, launch.command, launch.args),
            env=list(launch.env),
            mounts=list(launch.mounts),
            log_path=launch.log_path,
            run_dir=run.path,
            memory_limit=memory_limit,
            cpu_limit=_limit(launch.limits, "cpu", cpu_cores),
            cpu_budget=launch.deadline_seconds,
            working_dir=launch.working_dir,
            log_policy=self.context.log_policy,
            open_files=self.context.max_open_files,
            uid=launch.identity.uid,
            gid=launch.identity.gid,
            groups=launch.identity.groups,
            network=grant_for(launch.pod, launch.container),
        )
        if spec.network.bind_ports and _is_component_file(path):
            self._warn_listen_unavailable(launch, spec.network.bind_ports)
        container = await self.hosts.spawn(spec)
        self._track(container, stored.digest if stored is not None else "")
        return container

    async def recover_container(
        self, pod: KubeObject, name: str, restart: int
    ) -> RecoveredContainer | None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        run = RunDir.of(self.runs_root, uid, name, restart)
        host = run.host()
        if self.hosts is None or host is None:
            return None
        started_at = str(host.get("started_at") or "")
        ended = run.exit()
        if ended is not None:
            return RecoveredContainer(started_at=started_at, exit=ended[0], finished_at=ended[1])
        container = self.hosts.adopt(run)
        ended = run.exit() if container is None else None
        if ended is not None:  # it ended just now
            return RecoveredContainer(started_at=started_at, exit=ended[0], finished_at=ended[1])
        if container is None:
            return RecoveredContainer(
                started_at=started_at,
                exit=ExitStatus(
                    137,
                    "ContainerStatusUnknown",
                    "The container could not be located when the agent restarted: its module "
                    "host ended while the agent was away and left no exit status",
                ),
            )
        image = None
        reference = str(_container(pod, name).get("image") or "")
        stored = self._modules().get(reference)
        if stored is not None:
            image = ImageRef(reference, stored.image_id, stored.path)
        self._track(container, stored.digest if stored is not None else "")
        log.info("re-adopted a running container", pod=uid, container=name, pid=container.pid)
        return RecoveredContainer(started_at=started_at, running=container, image=image)

    async def discard_containers(self, keep_pod_uids: set[str]) -> None:
        gone = [uid for uid in pod_uids(self.runs_root) if uid not in keep_pod_uids]
        for uid in gone:
            await asyncio.to_thread(_kill_and_forget, self.runs_root, uid)
        if gone:
            log.info(
                "stopped the containers of pods deleted while the agent was away", pods=len(gone)
            )

    # -- helpers -------------------------------------------------------------------

    def _modules(self) -> ModuleStore:
        if self.modules is None:
            raise RuntimeError("WasiProvider.start() has not been called")
        return self.modules

    def _warn_listen_unavailable(self, launch: ContainerLaunch, ports: Sequence[int]) -> None:
        """Say why a granted listener will be refused (an ActorListening would be a lie).

        wasmtime-py 50's C API cannot allow TCP/UDP sockets for a component:
        ``wasi_config_inherit_network`` only admits every address, and since
        wasmtime 48 (#13936) TCP and UDP are off unless ``allow_tcp``/``allow_udp``
        are called, which the C API does not export (docs/wasi.md).
        """
        listed = ", ".join(str(port) for port in sorted(set(ports)))
        message = (
            f"container {launch.name} is granted to listen on port {listed}, but wasmtime-py "
            f"{wasmtime_version()} cannot open TCP/UDP sockets for a component: socket "
            "creation is refused (access-denied); see docs/wasi.md"
        )
        try:
            self.context.record_event(launch.pod, "Warning", "ListenUnavailable", message)
        except Exception:
            log.exception("recording an event failed", reason="ListenUnavailable")

    def _track(self, container: WasiContainer, digest: str) -> None:
        self.running[container] = digest
        asyncio.get_running_loop().create_task(self._forget(container))

    async def _forget(self, container: WasiContainer) -> None:
        await container.wait()
        self.running.pop(container, None)


def _container(pod: KubeObject, name: str) -> KubeObject:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if container.get("name") == name:
            return dict(container)
    return {}


def _is_component_file(path: Path) -> bool:
    with path.open("rb") as file:
        return is_component(file.read(8))


def _kill_and_forget(root: Path, pod_uid: str) -> None:
    """SIGKILL every live host of the pod (checked by pid and start time), drop its records."""
    for run in runs_of_pod(root, pod_uid):
        live = open_live_host(run) if run.exit() is None else None
        if live is None:
            continue
        _pid, pidfd = live
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass  # it ended meanwhile
        finally:
            os.close(pidfd)
    remove_pod(root, pod_uid)


def _limit(limits: Mapping[str, str], key: str, parse: Any) -> Any:
    if key not in limits:
        return None
    try:
        return parse(limits[key])
    except ValueError as exc:
        raise ContainerStartError(f"limits.{key}: {exc}") from None


__all__ = ["ARCH", "ImagePullError", "WasiProvider"]
