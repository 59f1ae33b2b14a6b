"""WasiProvider: runs wasm32-wasi command modules as pod containers, on wasmtime.

The Kubernetes side (init containers, restarts, back-off, states, logs,
volumes) is inherited from :class:`ContainerProvider`; this class only pulls
modules through the shared :class:`ModuleStore` and starts them with
:mod:`wasmlet_wasi.runtime`.

* Node: architecture ``wasm32-wasi``, tainted so container pods stay away,
  ``containerRuntimeVersion`` ``wasmtime://<version>``.
* Images: wasm-to-oci references pulled per ``imagePullPolicy``; the pod's
  ``imagePullSecrets`` are read from the API (when the agent gives us a
  client) only when the registry may actually be contacted.
* Containers: argv per :func:`~wasmlet_wasi.runtime.guest_argv`, env,
  volume mounts as preopened directories (``readOnly`` honoured),
  stdout+stderr into the run's log file, ``limits.memory`` / ``limits.cpu``
  and the ``activeDeadlineSeconds`` CPU budget enforced in the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import structlog

from kubelet_core.containers import (
    ContainerLaunch,
    ContainerProvider,
    ImageRef,
    LifecycleTimings,
    PullPolicy,
    RunningContainer,
)
from kubelet_core.modules import (
    ImageReference,
    ModuleStore,
    credentials_from_pull_secrets,
)
from kubelet_core.provider.base import KubeObject, NodeProfile, ProviderContext
from kubelet_core.provider.errors import ContainerStartError, ImagePullError
from kubelet_core.quantity import quantity_bytes as memory_bytes
from kubelet_core.quantity import quantity_cores as cpu_cores
from wasmlet_wasi.engine import WasmEngine, wasmtime_version
from wasmlet_wasi.runtime import ModuleSpec, WasiContainer, guest_argv, start_module

log = structlog.get_logger(__name__)

ARCH = "wasm32-wasi"
_BUNDLED = Path(__file__).parent / "modules"


class WasiProvider(ContainerProvider):
    """The ``wasi`` provider (entry point ``kubelet_core.providers:wasi``)."""

    name: ClassVar[str] = "wasi"
    container_id_scheme: ClassVar[str] = "wasi"

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
        self.engine: WasmEngine | None = None
        self.running: set[WasiContainer] = set()

    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch(ARCH, runtime_version=f"wasmtime://{wasmtime_version()}")

    def bundled_modules(self) -> Mapping[str, Path]:
        return {
            "examples.wasmlet.dev/hello-wasi:v1": _BUNDLED / "hello.wasm",
            "examples.wasmlet.dev/wasi-script:v1": _BUNDLED / "scripted.wasm",
        }

    async def start(self, context: ProviderContext) -> None:
        await super().start(context)
        insecure = (*self._insecure, *context.insecure_registries)
        self.modules = ModuleStore(context.modules_dir, insecure_registries=insecure)
        cache_dir = context.data_dir / "wasi" / "compiled"
        self.engine = await asyncio.to_thread(WasmEngine, cache_dir)

    async def shutdown(self) -> None:
        await super().shutdown()
        if self.engine is not None:
            self.engine.close()
        if self.modules is not None:
            await self.modules.aclose()

    # -- ContainerRuntime ----------------------------------------------------------

    async def pull_image(
        self,
        pod: KubeObject,
        container: KubeObject,
        policy: PullPolicy,
        pull_secrets: Sequence[KubeObject],
    ) -> ImageRef:
        modules = self._modules()
        image = str(container.get("image") or "")
        ref = ImageReference.parse(image)
        credentials = None
        may_contact = policy == "Always" or (
            policy == "IfNotPresent" and modules.get(image) is None
        )
        if pull_secrets and may_contact:
            secrets = await self._read_secrets(pod, pull_secrets)
            credentials = credentials_from_pull_secrets(secrets, ref.registry)
        downloaded = modules.stats.bytes_downloaded
        stored = await modules.pull(image, policy, credentials)
        if self.module_budget_bytes is not None and modules.stats.bytes_downloaded > downloaded:
            keep = {c.loaded.digest for c in self.running} | {stored.digest}
            await modules.gc(self.module_budget_bytes, keep=keep)
        return ImageRef(reference=image, image_id=stored.image_id, local_path=stored.path)

    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        if self.engine is None:
            raise RuntimeError("WasiProvider.start() has not been called")
        path = launch.image.local_path
        if path is None:
            stored = self._modules().get(launch.image.reference)
            if stored is None:
                raise ContainerStartError(f"module {launch.image.reference} is not in the store")
            path = stored.path
        spec = ModuleSpec(
            name=launch.name,
            module_path=path,
            argv=guest_argv(launch.name, launch.command, launch.args),
            env=list(launch.env),
            mounts=list(launch.mounts),
            log_path=launch.log_path,
            memory_limit=_limit(launch.limits, "memory", memory_bytes),
            cpu_limit=_limit(launch.limits, "cpu", cpu_cores),
            cpu_budget=launch.deadline_seconds,
            working_dir=launch.working_dir,
            log_policy=self.context.log_policy,
        )
        container = await start_module(self.engine, spec)
        self.running.add(container)
        asyncio.get_running_loop().create_task(self._forget(container))
        return container

    # -- helpers -------------------------------------------------------------------

    def _modules(self) -> ModuleStore:
        if self.modules is None:
            raise RuntimeError("WasiProvider.start() has not been called")
        return self.modules

    async def _forget(self, container: WasiContainer) -> None:
        await container.wait()
        self.running.discard(container)

    async def _read_secrets(self, pod: KubeObject, refs: Sequence[KubeObject]) -> list[KubeObject]:
        """Secret objects for ``refs`` (``{"name": ...}``); unreadable ones are skipped."""
        api: Any = getattr(self.__dict__.get("context"), "api", None)
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        secrets: list[KubeObject] = []
        for ref in refs:
            if "data" in ref or "stringData" in ref:
                secrets.append(ref)  # already a Secret
                continue
            name = ref.get("name")
            if not name or api is None:
                continue
            try:
                secret = await api.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            except Exception as exc:  # kubelet, too, pulls anonymously then
                log.warning("cannot read image pull secret", secret=name, error=str(exc))
                continue
            if isinstance(secret, dict):
                secrets.append(secret)
        return secrets


def _limit(limits: Mapping[str, str], key: str, parse: Any) -> Any:
    if key not in limits:
        return None
    try:
        return parse(limits[key])
    except ValueError as exc:
        raise ContainerStartError(f"limits.{key}: {exc}") from None


__all__ = ["ARCH", "ImagePullError", "WasiProvider"]
