"""WASI 0.2 components through the whole stack, as a user drives it.

`wasmlet up` as a subprocess (control plane + node agent + WasiProvider), a
real docker-registry on 127.0.0.1 serving the components of
testdata/components, and a real kubectl (with a HOME of its own, so its
discovery cache stays out of the repository).  Every pod names
``runtimeClassName: wasmlet-wasi`` and nothing else to reach the wasm node,
as docs/wasi.md tells users to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Wasmlet
from tests.fixtures.registry import RegistryProcess

pytestmark = [pytest.mark.needs_registry, pytest.mark.needs_kubectl, pytest.mark.slow]

COMPONENTS = Path(__file__).resolve().parents[2] / "testdata" / "components"
CNCF_CONFIG = "application/vnd.wasm.config.v0+json"
CNCF_LAYER = "application/wasm"
GRACE_SECONDS = 10


@pytest.fixture(scope="module", autouse=True)
def kubectl_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A HOME for kubectl (its ~/.kube/cache) for this module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("kubectl-home")))
        yield


def push_component(registry: RegistryProcess, name: str, *, cncf: bool = True) -> str:
    """Push testdata/components/<name>.wasm under a fresh repository; returns the image."""
    repo = f"components/{name}-{uuid.uuid4().hex[:8]}"
    data = (COMPONENTS / f"{name}.wasm").read_bytes()
    if cncf:  # the CNCF TAG-Runtime layout (wasm-pkg-tools, containerd's wasm shims)
        push = registry.push_manifest(
            f"{repo}:v1", [(data, CNCF_LAYER)], config_media_type=CNCF_CONFIG
        )
    else:  # the wasm-to-oci layout
        push = registry.push(data, f"{repo}:v1")
    asyncio.run(push)
    return f"{registry.host}/{repo}:v1"


def component_pod(
    name: str, image: str, args: list[str], annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image, "args": args}
    container.update(spec.pop("container", {}))
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "restartPolicy": "Never",
            "runtimeClassName": "wasmlet-wasi",
            "containers": [container],
            **spec,
        },
    }


def terminated(wasmlet: Wasmlet, pod: str) -> dict[str, Any]:
    status = wasmlet.kubectl_json("get", "pod", pod)["status"]
    state: dict[str, Any] = status["containerStatuses"][0]["state"]["terminated"]
    return state


def events_of(wasmlet: Wasmlet, pod: str) -> list[dict[str, Any]]:
    listed = wasmlet.kubectl_json("get", "events", "--field-selector", f"involvedObject.name={pod}")
    items: list[dict[str, Any]] = listed["items"]
    return items


# -- args, env, a configMap volume, exit code -------------------------------------------


def test_component_prints_args_env_and_a_configmap_file_and_exits_with_its_code(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    image = push_component(registry, "hello")
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "component-input", "namespace": "default"},
        "data": {"in.txt": "read from a configMap"},
    }
    pod = component_pod(
        "component-exit",
        image,
        ["first", "second"],
        container={
            "env": [
                {"name": "INPUT_FILE", "value": "/etc/input/in.txt"},
                {"name": "EXIT_CODE", "value": "7"},
            ],
            "volumeMounts": [{"name": "input", "mountPath": "/etc/input", "readOnly": True}],
        },
        volumes=[{"name": "input", "configMap": {"name": "component-input"}}],
    )
    wasmlet.apply(config_map, pod)
    wasmlet.wait_phase("component-exit", "Failed")
    state = terminated(wasmlet, "component-exit")
    assert (state["exitCode"], state["reason"]) == (7, "Error")
    logs = wasmlet.kubectl("logs", "component-exit")
    assert "hello from a component\n" in logs
    assert "argv[0]=main\nargv[1]=first\nargv[2]=second\n" in logs
    assert "env EXIT_CODE=7\n" in logs and "env INPUT_FILE=/etc/input/in.txt\n" in logs
    assert "input:read from a configMap\n" in logs
    assert "hello on stderr" in logs


def test_component_in_the_wasm_to_oci_layout_exits_zero(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    image = push_component(registry, "hello", cncf=False)
    wasmlet.apply(component_pod("component-ok", image, []))
    wasmlet.wait_phase("component-ok", "Succeeded")
    state = terminated(wasmlet, "component-ok")
    assert (state["exitCode"], state["reason"]) == (0, "Completed")
    status = wasmlet.kubectl_json("get", "pod", "component-ok")["status"]["containerStatuses"][0]
    assert status["imageID"].startswith(f"{registry.host}/components/hello-")
    assert "@sha256:" in status["imageID"]


# -- outgoing HTTP ------------------------------------------------------------------------


def test_outgoing_http_reaches_only_an_allowed_destination(
    wasmlet: Wasmlet, registry: RegistryProcess, web: int
) -> None:
    image = push_component(registry, "httpget", cncf=False)
    grant = {"wasi.wasmlet.dev/allowed-outbound": f"127.0.0.1:{web}"}
    with socket.socket() as other:  # listening, but not granted
        other.bind(("127.0.0.1", 0))
        other.listen()
        other_port = other.getsockname()[1]
        wasmlet.apply(
            component_pod("http-allowed", image, [f"127.0.0.1:{web}", "/"], grant),
            component_pod("http-other-port", image, [f"127.0.0.1:{other_port}", "/"], grant),
            component_pod("http-no-grant", image, [f"127.0.0.1:{web}", "/"]),
        )
        wasmlet.wait_phase("http-allowed", "Succeeded")
        wasmlet.wait_phase("http-other-port", "Failed")
    logs = wasmlet.kubectl("logs", "http-allowed")
    assert "status 200" in logs and "hello from the local server" in logs
    assert "request failed: wasi:http error-code" in wasmlet.kubectl("logs", "http-other-port")

    wasmlet.wait_phase("http-no-grant", "Failed")
    state = terminated(wasmlet, "http-no-grant")
    assert state["reason"] == "NetworkDenied"
    assert "wasi:http/outgoing-handler" in state["message"]
    assert "wasi.wasmlet.dev/allowed-outbound" in state["message"]


# -- TCP server ---------------------------------------------------------------------------


def test_tcp_server_without_a_grant_is_refused(wasmlet: Wasmlet, registry: RegistryProcess) -> None:
    image = push_component(registry, "tcpserver")
    port = _free_port()
    wasmlet.apply(
        component_pod(
            "tcp-denied",
            image,
            ["127.0.0.1", str(port)],
            container={"ports": [{"containerPort": port}]},
        )
    )
    wasmlet.wait_phase("tcp-denied", "Failed")
    assert terminated(wasmlet, "tcp-denied")["exitCode"] == 1
    # access-denied (wasi:sockets error-code 1), before any socket exists
    assert "create-tcp-socket failed: wasi:sockets error-code 1" in wasmlet.kubectl(
        "logs", "tcp-denied"
    )
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass


def test_tcp_server_granted_to_listen_is_warned_that_wasmtime_py_cannot_open_sockets(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    """What a granted listener gets today: a Warning naming the cause, and access-denied.

    wasmtime-py 50's C API has no way to allow TCP/UDP for a component
    (docs/wasi.md).  When it gets one, this test fails: the grant can then
    be made to work, reported like the actor provider's ActorListening.
    """
    image = push_component(registry, "tcpserver")
    port = _free_port()
    wasmlet.apply(
        component_pod(
            "tcp-granted",
            image,
            ["127.0.0.1", str(port)],
            {"wasi.wasmlet.dev/listen": "true"},
            container={"ports": [{"containerPort": port}]},
        )
    )
    wasmlet.wait_phase("tcp-granted", "Failed")
    logs = wasmlet.kubectl("logs", "tcp-granted")
    assert "create-tcp-socket failed: wasi:sockets error-code 1" in logs
    warnings = [e for e in events_of(wasmlet, "tcp-granted") if e["reason"] == "ListenUnavailable"]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert "TCP/UDP" in warnings[0]["message"] and str(port) in warnings[0]["message"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- memory limit and stop ----------------------------------------------------------------


def test_memory_limit_refuses_the_components_growth(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    image = push_component(registry, "hello")
    wasmlet.apply(
        component_pod(
            "component-hog",
            image,
            ["alloc", "100"],
            container={"resources": {"limits": {"memory": "32Mi"}}},
        )
    )
    wasmlet.wait_phase("component-hog", "Failed")
    state = terminated(wasmlet, "component-hog")
    assert (state["exitCode"], state["reason"]) == (2, "Error")
    assert "memory.grow refused after" in wasmlet.kubectl("logs", "component-hog")


def test_deleting_a_spinning_component_stops_it_within_the_grace_period(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    """The host is SIGKILLed: the last status a watcher sees before DELETED says 137.

    As kubelet: the terminated container's status is written while the pod is
    still there (in its grace period), then the node deletes it with grace 0.
    The deletion ends within the grace period, with the Killing event and the
    host process gone.
    """
    image = push_component(registry, "hello")
    wasmlet.apply(component_pod("component-spin", image, ["spin"]))
    wasmlet.wait_phase("component-spin", "Running")
    host = os.pidfd_open(_host_pid(wasmlet, "component-spin"))
    try:
        with watch_pod(wasmlet, "component-spin") as events:
            assert next(events)["type"] == "ADDED"  # the watch is established
            began = time.monotonic()
            wasmlet.kubectl("delete", "pod", "component-spin", f"--grace-period={GRACE_SECONDS}")
            took = time.monotonic() - began
            seen = list(events)
            assert [event["type"] for event in seen][-1:] == ["DELETED"]
        last = seen[-1]["object"]["status"]
        terminated = last["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], last["phase"]) == (137, "Failed")
        gone, _, _ = select.select([host], [], [], 5)  # readable once the process has ended
    finally:
        os.close(host)
    assert took < GRACE_SECONDS, f"deletion took {took:.1f}s"
    assert gone, "the spinning module host still runs"
    killing = [e for e in events_of(wasmlet, "component-spin") if e["reason"] == "Killing"]
    assert killing and killing[0]["type"] == "Normal"


def _host_pid(wasmlet: Wasmlet, pod: str) -> int:
    """The module host's pid, from the record the node keeps of the run."""
    uid = wasmlet.kubectl_json("get", "pod", pod)["metadata"]["uid"]
    records = list(wasmlet.data_dir.glob(f"nodes/*/wasi/runs/{uid}/main/0/host.json"))
    assert len(records) == 1, records
    return int(json.loads(records[0].read_text())["pid"])


@contextlib.contextmanager
def watch_pod(wasmlet: Wasmlet, pod: str) -> Iterator[Iterator[dict[str, Any]]]:
    """The watch events of ``kubectl get pod --watch``, each as kubectl prints it, to DELETED."""
    env = {**os.environ, "KUBECONFIG": str(wasmlet.kubeconfig)}
    command = [wasmlet.kubectl_binary, "get", "pod", pod, "--watch", "--output-watch-events",
               "-o", "json"]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    timer = threading.Timer(120, process.kill)  # a watch that never ends fails the test
    timer.start()
    try:
        yield _events(process)
    finally:
        timer.cancel()
        process.kill()
        process.wait()


def _events(process: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    buffer = ""
    assert process.stdout is not None
    for line in process.stdout:  # blocks until kubectl prints: no polling
        buffer += line
        while buffer.strip():
            try:
                event, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                break  # an object still being printed
            buffer = buffer.lstrip()[end:]
            yield event
            if event.get("type") == "DELETED":
                return
