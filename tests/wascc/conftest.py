"""Fixtures for the actor provider: the committed test actors, keys, a waPC runtime,
and a started WasccProvider wired to a recording context (the containers tests' Recorder)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._containers.logs import decode_log
from kubelet_core._modules import ModuleStore
from kubelet_core._provider.base import KubeObject, ProviderContext
from tests.containers.conftest import FAST, Recorder, container
from wasmlet_wascc.actor import RunningActor
from wasmlet_wascc.capabilities import (
    ActorBinding,
    CapabilityHost,
    KeyValueCapability,
    LoggingCapability,
)
from wasmlet_wascc.claims import verify_actor
from wasmlet_wascc.keys import KeyPair
from wasmlet_wascc.logfile import ContainerLog
from wasmlet_wascc.pool import ActorPool
from wasmlet_wascc.provider import WasccProvider
from wasmlet_wascc.wapc import WapcRuntime

ACTORS_DIR = Path(__file__).resolve().parents[2] / "testdata" / "actors"
ACTOR_NAMES = ("echo", "counter", "sneaky", "spin")


def actor_path(name: str) -> Path:
    return ACTORS_DIR / f"{name}.wasm"


def actor_bytes(name: str) -> bytes:
    return actor_path(name).read_bytes()


@pytest.fixture(scope="session")
def issuer() -> KeyPair:
    """The committed test issuer (an account key)."""
    return KeyPair.from_seed((ACTORS_DIR / "keys" / "issuer.nk").read_text())


@pytest.fixture
def wapc_runtime() -> Iterator[WapcRuntime]:
    runtime = WapcRuntime()
    yield runtime
    runtime.close()


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="test-wascc")
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


async def start_bare_actor(
    name: str,
    runtime: WapcRuntime,
    executor: concurrent.futures.Executor,
    log_path: Path,
    *,
    call_timeout: float = 1.0,
    max_traps: int = 5,
    instances: int = 1,
    module: bytes | None = None,
) -> RunningActor:
    """An actor without the container lifecycle or HTTP: logging and keyvalue bound only."""
    data = module if module is not None else actor_bytes(name)
    claims = verify_actor(data)
    pre = runtime.load(data)
    log = ContainerLog(log_path)
    host = CapabilityHost("127.0.0.1", asyncio.get_running_loop(), executor, (30000, 32767), 1.0)
    capabilities = {c.capability_id: c for c in (LoggingCapability(), KeyValueCapability())}
    for capability in capabilities.values():
        await capability.start(host)
    pool = ActorPool(
        lambda: runtime.instantiate(pre, host_call=actor.host_call, console_log=actor.console_log),
        size=instances,
        call_timeout=call_timeout,
        executor=executor,
    )
    pod: KubeObject = {"metadata": {"name": name, "namespace": "default"}}
    bindings = {
        cap: ActorBinding(
            capability_id=cap,
            actor_key=claims.subject,
            actor_name=name,
            pod=pod,
            container={"name": name},
            config={},
            log=log,
            call_actor=pool.call,
            record_event=lambda *args: None,
        )
        for cap in claims.capabilities
        if cap in capabilities
    }
    actor = RunningActor(
        claims=claims,
        pool=pool,
        capabilities=capabilities,
        bindings=bindings,
        log=log,
        max_traps=max_traps,
        trap_window_seconds=10.0,
    )
    pool.on_trap = actor.on_trap
    await actor.start()
    return actor


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Node:
    """A started WasccProvider with the test actors imported into its module store."""

    def __init__(self, provider: WasccProvider, recorder: Recorder, data_dir: Path) -> None:
        self.provider = provider
        self.recorder = recorder
        self.data_dir = data_dir

    @staticmethod
    def pod(
        name: str,
        image: str,
        *,
        port: int | None = None,
        host_port: int | None = None,
        env: dict[str, str] | None = None,
        restart_policy: str = "Always",
    ) -> KubeObject:
        ports: list[dict[str, Any]] = []
        if port is not None:
            ports.append({"containerPort": port, "protocol": "TCP"})
            if host_port is not None:
                ports[0]["hostPort"] = host_port
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {
                "restartPolicy": restart_policy,
                "containers": [
                    {
                        "name": "actor",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": ports,
                        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                    }
                ],
            },
        }

    async def run(self, pod: KubeObject, timeout: float = 10.0) -> str:
        """Create the pod, wait until its actor runs, return its HTTP endpoint."""
        await self.provider.create_pod(pod)
        name = pod["metadata"]["name"]
        await self.recorder.status(name, lambda s: _running(s), timeout)
        return self.endpoint(pod)

    def endpoint(self, pod: KubeObject) -> str:
        actor = self.provider.actors[(pod["metadata"]["uid"], "actor")]
        return actor.endpoints[0]

    async def terminated(self, pod: KubeObject, timeout: float = 10.0) -> KubeObject:
        status = await self.recorder.status(
            pod["metadata"]["name"],
            lambda s: "terminated" in _state(s) or "terminated" in _last(s),
            timeout,
        )
        return container(status, "actor")

    def log_text(self, pod: KubeObject, restart: int = 0) -> str:
        meta = pod["metadata"]
        pod_dir = f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
        path = self.data_dir / "pods" / pod_dir / "actor" / f"{restart}.log"
        return decode_log(path.read_bytes()).decode()


def _state(status: KubeObject) -> dict[str, Any]:
    try:
        state: dict[str, Any] = container(status, "actor").get("state", {})
        return state
    except KeyError:
        return {}


def _last(status: KubeObject) -> dict[str, Any]:
    try:
        state: dict[str, Any] = container(status, "actor").get("lastState", {})
        return state
    except KeyError:
        return {}


def _running(status: KubeObject) -> bool:
    return "running" in _state(status)


@pytest.fixture
async def node_factory(tmp_path: Path) -> AsyncIterator[Any]:
    """Makes started providers (options as keywords); all are shut down at the end."""
    made: list[WasccProvider] = []
    store = ModuleStore(tmp_path / "modules")
    for name in ACTOR_NAMES:
        await store.import_file(actor_path(name), f"wasmlet.test/{name}:v1")

    async def make(*, shared_store: bool = True, **options: Any) -> Node:
        """``shared_store=False``: the provider opens its own store (and pulls for real)."""
        recorder = Recorder()
        data_dir = tmp_path / f"node{len(made)}"
        provider = WasccProvider(
            module_store=store if shared_store else None, timings=FAST, **options
        )
        context = ProviderContext(
            node_name="wascc-test",
            node_ip="127.0.0.1",
            data_dir=data_dir,
            notify_pod_status=recorder.notify,
            record_event=recorder.record,
            modules_dir=tmp_path / "modules" if shared_store else data_dir / "modules",
        )
        await provider.start(context)
        made.append(provider)
        return Node(provider, recorder, data_dir)

    yield make
    for provider in made:
        await provider.shutdown()
    await store.aclose()


@pytest.fixture
async def node(node_factory: Any) -> Node:
    result: Node = await node_factory()
    return result


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
