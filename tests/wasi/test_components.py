"""WASI 0.2 components in module hosts: detection, exit codes, mounts, limits, stop, cache, network.

Components come from testdata/components (freestanding C made components by
wasm-tools); they run through :class:`ModuleHosts` exactly as modules do.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from kubelet_core._containers.logs import decode_log
from kubelet_core._containers.runtime import VolumeMount
from kubelet_core._provider.errors import ContainerStartError
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.engine import WasmEngine, is_component
from wasmlet_wasi.network import Destination, NetworkGrant, grant_for
from wasmlet_wasi.runtime import ModuleHosts, ModuleSpec, start_module

COMPONENTS = WASM_DIR.parent / "components"


def logged(path: Path) -> str:
    return decode_log(path.read_bytes()).decode()


def spec(tmp_path: Path, component: str, *args: str, **fields: object) -> ModuleSpec:
    values: dict[str, object] = {
        "env": [],
        "mounts": [],
        "run_dir": tmp_path / "runs" / component,
        "log_path": tmp_path / f"{component}.log",
        "module_path": COMPONENTS / f"{component}.wasm",
        **fields,
    }
    return ModuleSpec(name=component, argv=[component, *args], **values)  # type: ignore[arg-type]


def test_components_are_told_by_their_header() -> None:
    assert is_component((COMPONENTS / "hello.wasm").read_bytes())
    assert not is_component((WASM_DIR / "hello.wasm").read_bytes())


async def test_component_args_env_mount_and_exit_code(hosts: ModuleHosts, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from the volume")
    running = await start_module(
        hosts,
        spec(
            tmp_path,
            "hello",
            "first",
            "second",
            env=[("INPUT_FILE", "/mnt/data/in.txt"), ("EXIT_CODE", "42")],
            mounts=[VolumeMount(data, "/mnt/data", read_only=True)],
        ),
    )
    status = await running.wait()
    assert status.exit_code == 42
    text = logged(tmp_path / "hello.log")
    assert "hello from a component" in text
    assert "argv[1]=first\n" in text and "argv[2]=second\n" in text
    assert "env EXIT_CODE=42\n" in text
    assert "input:from the volume" in text
    assert "hello on stderr" in text


async def test_component_exit_zero(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "hello"))
    assert (await running.wait()).exit_code == 0


async def test_component_memory_limit(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(
        hosts, spec(tmp_path, "hello", "alloc", "100", memory_limit=32 << 20)
    )
    status = await running.wait()
    assert status.exit_code == 2
    assert "memory.grow refused" in logged(tmp_path / "hello.log")
    ok = await start_module(
        hosts,
        spec(tmp_path, "hello", "alloc", "8", memory_limit=32 << 20, run_dir=tmp_path / "r2"),
    )
    assert (await ok.wait()).exit_code == 0


async def test_stop_a_spinning_component(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "hello", "spin"))
    began = time.perf_counter()
    await running.stop(5)
    status = await running.wait()
    assert (status.exit_code, status.signal) == (137, 9)
    assert time.perf_counter() - began < 2.0


async def test_compiled_component_cache(tmp_path: Path) -> None:
    data = (COMPONENTS / "hello.wasm").read_bytes()
    compiled = WasmEngine(tmp_path / "c").load(data)
    assert compiled.source == "compiled" and compiled.is_component
    loaded = WasmEngine(tmp_path / "c").load(data)
    assert loaded.source == "disk" and loaded.is_component
    assert loaded.run_export.startswith("wasi:cli/run@0.2")


async def test_component_with_a_foreign_import_names_it(tmp_path: Path) -> None:
    foreign = (
        '(component (import "acme:db/query@1.0.0" (instance))'
        " (core module $m) (core instance (instantiate $m)))"
    )
    import wasmtime

    with pytest.raises(ContainerStartError, match=r"acme:db/query@1\.0\.0"):
        WasmEngine(None).load(wasmtime.wat2wasm(foreign))


# -- network --------------------------------------------------------------------


async def test_http_needs_a_grant(hosts: ModuleHosts, tmp_path: Path, web: int) -> None:
    with pytest.raises(ContainerStartError, match="not granted outgoing HTTP") as failed:
        await start_module(hosts, spec(tmp_path, "httpget", f"127.0.0.1:{web}", "/"))
    assert failed.value.reason == "NetworkDenied"


async def test_http_reaches_only_granted_ports(
    hosts: ModuleHosts, tmp_path: Path, web: int
) -> None:
    grant = NetworkGrant(outbound=(Destination("127.0.0.1", web),))
    allowed = await start_module(
        hosts, spec(tmp_path, "httpget", f"127.0.0.1:{web}", "/", network=grant)
    )
    assert (await allowed.wait()).exit_code == 0
    text = logged(tmp_path / "httpget.log")
    assert "status 200" in text and "hello from the local server" in text
    with socket.socket() as other:  # a listening port the pod was not granted
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        refused = await start_module(
            hosts,
            spec(
                tmp_path,
                "httpget",
                f"127.0.0.1:{port}",
                "/",
                network=grant,
                log_path=tmp_path / "refused.log",
                run_dir=tmp_path / "r2",
            ),
        )
        status = await asyncio.wait_for(refused.wait(), 30)
    assert status.exit_code == 1
    assert "request failed: wasi:http error-code" in logged(tmp_path / "refused.log")


async def test_tcp_server_is_denied_without_a_grant(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "tcpserver", "127.0.0.1", "0"))
    assert (await running.wait()).exit_code == 1
    assert "failed: wasi:sockets error-code 1" in logged(tmp_path / "tcpserver.log")  # denied


async def test_tcp_is_refused_even_with_a_listen_grant(hosts: ModuleHosts, tmp_path: Path) -> None:
    """wasmtime-py 50 cannot allow TCP for a component (docs/wasi.md): access-denied.

    When a wasmtime-py release can, this fails, and the grant can be made to work.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    grant = NetworkGrant(bind_ports=(port,))
    running = await start_module(
        hosts, spec(tmp_path, "tcpserver", "127.0.0.1", str(port), network=grant)
    )
    assert (await running.wait()).exit_code == 1
    assert "create-tcp-socket failed: wasi:sockets error-code 1" in logged(
        tmp_path / "tcpserver.log"
    )


def test_grant_from_annotations() -> None:
    pod = {
        "metadata": {
            "annotations": {
                "wasi.wasmlet.dev/allowed-outbound": "127.0.0.1:8080, api.example:443",
                "wasi.wasmlet.dev/listen": "true",
            }
        }
    }
    container = {"ports": [{"containerPort": 9000, "hostPort": 9001}]}
    grant = grant_for(pod, container)
    assert grant.request() == {
        "http": True,
        "name_lookup": True,
        "connect_ports": [443, 8080],
        "bind_ports": [9000, 9001],
    }
    assert grant_for({"metadata": {}}, container).request()["bind_ports"] == []
    with pytest.raises(ContainerStartError, match="host:port"):
        grant_for({"metadata": {"annotations": {"wasi.wasmlet.dev/allowed-outbound": "x"}}}, {})
