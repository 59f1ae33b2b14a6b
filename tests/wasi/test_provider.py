"""WasiProvider driven through ContainerProvider: real modules, real threads, real files."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import pytest

from kubelet_core._provider.base import KubeObject, ProviderContext
from kubelet_core._provider.errors import ImagePullError
from kubelet_core.containers import ImagePull, PullPolicy, RegistryCredentials
from tests.containers.conftest import FAST, Recorder, container, make_pod, state_reason
from tests.fixtures.registry import RegistryProcess
from tests.wasi.conftest import WASM_DIR, image, read_log
from wasmlet_wasi.provider import WasiProvider


def wasm(name: str, module: str, *args: str, **fields: Any) -> KubeObject:
    return {
        "name": name,
        "image": image(module),
        "imagePullPolicy": "Never",
        "args": list(args),
        **fields,
    }


def terminated(status: KubeObject, name: str, *, init: bool = False) -> KubeObject:
    state: KubeObject = container(status, name, init=init)["state"]["terminated"]
    return state


def test_node_profile() -> None:
    profile = WasiProvider().node_profile()
    assert profile.architecture == "wasm32-wasi"
    assert profile.runtime_version == "wasmtime://50.0.1"
    assert {(t.key, t.value, t.effect) for t in profile.taints} == {
        ("kubernetes.io/arch", "wasm32-wasi", "NoSchedule"),
        ("kubernetes.io/arch", "wasm32-wasi", "NoExecute"),
    }


async def test_hello_runs_with_args_env_and_logs(
    provider: WasiProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "hello",
        [
            wasm(
                "greeter",
                "hello",
                "world",
                "two words",
                env=[{"name": "GREETING", "value": "hi $(POD)"}, {"name": "POD", "value": "p"}],
            )
        ],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.phase("hello", "Succeeded")
    state = terminated(status, "greeter")
    assert (state["exitCode"], state["reason"]) == (0, "Completed")
    info = container(status, "greeter")
    assert info["imageID"].startswith("wasmlet.test/hello@sha256:")
    assert info["containerID"].startswith("wasi://")
    log = (await read_log(provider, "hello", "greeter")).decode()
    assert "hello from wasm" in log
    assert "argv[0]=greeter\nargv[1]=world\nargv[2]=two words\n" in log
    # $(POD) is defined after GREETING, so Kubernetes leaves it unexpanded.
    assert "env GREETING=hi $(POD)\nenv POD=p\n" in log
    assert "hello on stderr" in log  # stderr goes to the same log


async def test_command_replaces_argv0(provider: WasiProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "cmd",
        [wasm("c", "hello", "x", command=["/bin/hello.wasm", "first"])],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    await recorder.phase("cmd", "Succeeded")
    log = (await read_log(provider, "cmd", "c")).decode()
    assert "argv[0]=/bin/hello.wasm\nargv[1]=first\nargv[2]=x\n" in log


async def test_exit_code_three(provider: WasiProvider, recorder: Recorder) -> None:
    pod = make_pod("exit3", [wasm("main", "scripted", "exit", "3")], restart_policy="Never")
    await provider.create_pod(pod)
    status = await recorder.phase("exit3", "Failed")
    state = terminated(status, "main")
    assert (state["exitCode"], state["reason"]) == (3, "Error")


async def test_trap_is_error_with_message(provider: WasiProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "trap", [wasm("main", "scripted", "echo", "before", "trap")], restart_policy="Never"
    )
    await provider.create_pod(pod)
    status = await recorder.phase("trap", "Failed")
    state = terminated(status, "main")
    assert (state["exitCode"], state["reason"]) == (1, "Error")
    assert "unreachable" in state["message"]
    assert (await read_log(provider, "trap", "main")) == b"before\n"


async def test_memory_limit_is_oomkilled(provider: WasiProvider, recorder: Recorder) -> None:
    limits = {"resources": {"limits": {"memory": "16Mi"}}}
    pod = make_pod(
        "oom",
        [wasm("hog", "memhog", "64", **limits), wasm("fits", "memhog", "8", **limits)],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.phase("oom", "Failed")
    hog = terminated(status, "hog")
    assert hog["reason"] == "OOMKilled"
    assert "16 MiB limit" in hog["message"]
    assert terminated(status, "fits")["reason"] == "Completed"
    assert b"malloc failed after 1" in await read_log(provider, "oom", "hog")


async def test_memory_limit_below_initial_memory(
    provider: WasiProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "tiny",
        [wasm("main", "hello", resources={"limits": {"memory": "64Ki"}})],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.phase("tiny", "Failed")
    state = terminated(status, "main")
    assert state["reason"] == "OOMKilled"
    assert "initial memory" in state["message"]


async def test_readonly_mount_refuses_writes(provider: WasiProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "mounts",
        [
            wasm(
                "reader",
                "scripted",
                "read",
                "/data/x",
                "write",
                "/data/y",
                "nope",
                volumeMounts=[{"name": "shared", "mountPath": "/data", "readOnly": True}],
            )
        ],
        init=[
            wasm(
                "setup",
                "scripted",
                "write",
                "/data/x",
                "from init\n",
                volumeMounts=[{"name": "shared", "mountPath": "/data"}],
            )
        ],
        restart_policy="Never",
        volumes=[{"name": "shared", "emptyDir": {}}],
    )
    await provider.create_pod(pod)
    status = await recorder.phase("mounts", "Failed")
    assert terminated(status, "setup", init=True)["exitCode"] == 0
    assert terminated(status, "reader")["exitCode"] == 1
    log = (await read_log(provider, "mounts", "reader")).decode()
    assert log.startswith("from init\n")
    assert "ERR: cannot open /data/y" in log


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("notwasm", "not a wasm module"),
        ("reactor", "no _start export"),
        ("badimport", "imports env::host_magic"),
    ],
)
async def test_bad_modules_fail_to_start_clearly(
    provider: WasiProvider, recorder: Recorder, module: str, expected: str
) -> None:
    pod = make_pod(f"bad-{module}", [wasm("main", module)], restart_policy="Never")
    await provider.create_pod(pod)
    status = await recorder.phase(f"bad-{module}", "Failed")
    state = terminated(status, "main")
    assert state["reason"] == "StartError"
    assert expected in state["message"]
    # The provider is unaffected: another pod still runs.
    ok = make_pod(f"after-{module}", [wasm("main", "hello")], restart_policy="Never")
    await provider.create_pod(ok)
    await recorder.phase(f"after-{module}", "Succeeded")


async def test_never_pull_missing_module(provider: WasiProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "absent",
        [{"name": "main", "image": "wasmlet.test/absent:v1", "imagePullPolicy": "Never"}],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.status(
        "absent", lambda s: state_reason(s, "main") == "ErrImageNeverPull"
    )
    assert "pull policy of Never" in container(status, "main")["state"]["waiting"]["message"]


async def test_delete_stops_a_spinning_module_fast(
    provider: WasiProvider, recorder: Recorder
) -> None:
    pod = make_pod("spinner", [wasm("main", "spin")], terminationGracePeriodSeconds=10)
    await provider.create_pod(pod)
    await recorder.status("spinner", lambda s: state_reason(s, "main") == "Running")
    began = time.perf_counter()
    await provider.delete_pod(pod, 10)
    latency = time.perf_counter() - began
    print(f"delete of a spinning module took {latency * 1000:.1f} ms")
    assert latency < 1.0  # far inside the 10 s grace period
    assert not provider.running or all(
        c.thread is None or not c.thread.is_alive() for c in provider.running
    )


async def test_fifty_modules_at_once_without_blocking_the_loop(
    provider: WasiProvider, recorder: Recorder
) -> None:
    loop = asyncio.get_running_loop()
    worst_lag = 0.0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal worst_lag
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            worst_lag = max(worst_lag, loop.time() - before - 0.005)

    beat = asyncio.create_task(heartbeat())
    pods = [
        make_pod(
            f"many-{i}",
            [wasm("main", "scripted", "echo", f"pod {i}", "sleep", "1000", "spin", "20")],
            restart_policy="Never",
        )
        for i in range(50)
    ]
    began = time.perf_counter()
    for pod in pods:
        await provider.create_pod(pod)
    for i in range(50):
        await recorder.phase(f"many-{i}", "Succeeded", timeout=30)
    elapsed = time.perf_counter() - began
    done.set()
    await beat
    print(
        f"50 modules (1 s sleep + 20 ms spin each) done in {elapsed:.2f}s, "
        f"worst event-loop lag {worst_lag * 1000:.1f} ms"
    )
    # Concurrent, not 50 x 1 s one after another; and no module ever held the loop for
    # the length of its run (the lag bound is loose: the 2-core CI machine is shared).
    assert elapsed < 12
    assert worst_lag < 0.9
    for i in (0, 49):
        assert (await read_log(provider, f"many-{i}", "main")) == f"pod {i}\n".encode()


def pull(
    pod: KubeObject, image: str, policy: PullPolicy, login: RegistryCredentials | None
) -> ImagePull:
    return ImagePull(pod, {"name": "c", "image": image}, image, policy, login)


@pytest.mark.needs_registry
async def test_pull_image_with_secret_object_and_gc_budget(
    context: ProviderContext, auth_registry: RegistryProcess
) -> None:
    """pull_image logs in with the credentials it is given; the store stays within its budget."""
    prov = WasiProvider(timings=FAST, module_budget_bytes=40_000)
    await prov.start(context)
    try:
        repo = f"budget-{uuid.uuid4().hex[:8]}"
        await auth_registry.push(WASM_DIR / "hello.wasm", f"{repo}:a")  # 33808 bytes
        await auth_registry.push(WASM_DIR / "ticker.wasm", f"{repo}:b")  # 29869 bytes
        login = RegistryCredentials("wasmlet", "s3cret")
        pod = make_pod("pull", [])
        first = await prov.pull_image(
            pull(pod, f"{auth_registry.host}/{repo}:a", "IfNotPresent", login)
        )
        assert first.local_path is not None and first.local_path.exists()
        # GC spares blobs younger than a minute (another process may be recording them).
        old = time.time() - 3600
        os.utime(first.local_path, (old, old))
        with pytest.raises(ImagePullError, match="authorization failed"):
            await prov.pull_image(pull(pod, f"{auth_registry.host}/{repo}:b", "Always", None))
        second = await prov.pull_image(pull(pod, f"{auth_registry.host}/{repo}:b", "Always", login))
        assert second.local_path is not None and second.local_path.exists()
        assert not first.local_path.exists()  # least recently used, over the budget
    finally:
        await prov.shutdown()
