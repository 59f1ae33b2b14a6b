"""The waPC host: calls, host calls and their authorization, deadlines and traps."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest
import wasmtime

from kubelet_core._containers.logs import decode_log
from tests.wascc.conftest import actor_bytes, start_bare_actor
from wasmlet_wascc.codec import HttpRequest, HttpResponse
from wasmlet_wascc.wapc import GuestError, GuestTrap, InvalidActorModule, WapcRuntime

Executor = concurrent.futures.ThreadPoolExecutor


def request(path: str, body: bytes = b"", method: str = "GET") -> bytes:
    return HttpRequest(method, path, "", {"accept": "*/*"}, body).encode()


async def test_echo_round_trip(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("echo", wapc_runtime, executor, tmp_path / "log")
    assert await actor.pool.call("Echo", b"\x00hello\xff" * 1000) == b"\x00hello\xff" * 1000
    assert await actor.pool.call("Echo", b"") == b""
    response = HttpResponse.decode(await actor.pool.call("HandleRequest", request("/a")))
    assert (response.status_code, response.body) == (200, b"GET /a")
    posted = HttpResponse.decode(
        await actor.pool.call("HandleRequest", request("/p", b"x" * 100_000, "POST"))
    )
    assert posted.body == b"x" * 100_000
    with pytest.raises(GuestError, match="unknown operation"):
        await actor.pool.call("Nope", b"")
    usage = actor.usage()
    assert usage.memory_bytes >= 65536 and usage.cpu_seconds > 0
    await actor.stop(1.0)
    assert "INFO GET /a" in decode_log((tmp_path / "log").read_bytes()).decode()


async def test_capability_not_in_the_claims_is_refused(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("sneaky", wapc_runtime, executor, tmp_path / "log")
    with pytest.raises(GuestError) as refused:
        await actor.pool.call("Publish", b"payload")
    assert "not authorized for capability wascc:messaging" in str(refused.value)
    response = HttpResponse.decode(await actor.pool.call("HandleRequest", request("/x")))
    assert response.status_code == 403
    assert b"not authorized" in response.body
    # the host-call path itself: any namespace outside the claims is refused
    with pytest.raises(Exception, match="not authorized for capability wascc:keyvalue"):
        actor.host_call("default", "wascc:keyvalue", "Get", msgpack.packb({"key": "k"}))
    await actor.stop(1.0)


async def test_keyvalue_through_host_calls(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("counter", wapc_runtime, executor, tmp_path / "log")
    counts = [
        HttpResponse.decode(await actor.pool.call("HandleRequest", request("/hits"))).body
        for _ in range(3)
    ]
    assert counts == [b"1", b"2", b"3"]
    other = HttpResponse.decode(await actor.pool.call("HandleRequest", request("/other")))
    assert other.body == b"1"
    await actor.stop(1.0)


async def test_spin_is_interrupted_and_the_next_call_works(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor(
        "spin", wapc_runtime, executor, tmp_path / "log", call_timeout=0.2
    )
    began = time.monotonic()
    with pytest.raises(GuestTrap) as trapped:
        await actor.pool.call("Spin", b"")
    elapsed = time.monotonic() - began
    assert trapped.value.interrupted
    assert 0.2 <= elapsed < 2.0  # loose: the machine may be loaded
    assert await actor.pool.call("Echo", b"still here") == b"still here"
    assert actor.calls_trapped == 1
    await actor.stop(1.0)
    assert "exceeded its deadline" in decode_log((tmp_path / "log").read_bytes()).decode()


async def test_the_event_loop_keeps_running_during_a_call(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor(
        "spin", wapc_runtime, executor, tmp_path / "log", call_timeout=0.3
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    with pytest.raises(GuestTrap):
        await actor.pool.call("Spin", b"")
    task.cancel()
    assert ticks >= 10  # ~30 expected; a blocked loop would give 0 or 1
    await actor.stop(1.0)


async def test_a_trap_fails_the_call_and_the_actor_survives(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("echo", wapc_runtime, executor, tmp_path / "log")
    with pytest.raises(GuestTrap, match="unreachable") as trapped:
        await actor.pool.call("Trap", b"")
    assert not trapped.value.interrupted
    assert await actor.pool.call("Echo", b"ok") == b"ok"
    wait = asyncio.ensure_future(actor.wait())
    await asyncio.sleep(0)
    assert not wait.done()
    await actor.stop(1.0)
    status = await wait
    assert (status.exit_code, status.effective_reason) == (0, "Completed")


async def test_traps_that_keep_happening_end_the_actor(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("echo", wapc_runtime, executor, tmp_path / "log", max_traps=3)
    for _ in range(3):
        with pytest.raises(GuestTrap):
            await actor.pool.call("Trap", b"")
    status = await asyncio.wait_for(actor.wait(), 5.0)
    assert status.effective_reason == "Error" and status.exit_code != 0
    assert "trapped 3 times within 10s" in status.message


async def test_concurrent_calls_use_several_instances(
    wapc_runtime: WapcRuntime, executor: Executor, tmp_path: Path
) -> None:
    actor = await start_bare_actor("echo", wapc_runtime, executor, tmp_path / "log", instances=3)
    payloads = [f"call {i}".encode() for i in range(200)]
    results = await asyncio.gather(*(actor.pool.call("Echo", p) for p in payloads))
    assert results == payloads
    await actor.stop(1.0)


def test_modules_that_are_not_actors_are_refused(wapc_runtime: WapcRuntime) -> None:
    with pytest.raises(InvalidActorModule, match="not a valid wasm module"):
        wapc_runtime.load(b"\0asm\x01\0\0\0garbage")
    old_abi = wasmtime.wat2wasm(
        """(module
             (import "wapc" "__host_call" (func (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"""
    )
    with pytest.raises(InvalidActorModule, match=r"pre-2020 waPC ABI.*4 arguments"):
        wapc_runtime.load(bytes(old_abi))
    wasi = wasmtime.wat2wasm(
        """(module (import "wasi_snapshot_preview1" "fd_write"
             (func (param i32 i32 i32 i32) (result i32))))"""
    )
    with pytest.raises(InvalidActorModule, match="wasi provider"):
        wapc_runtime.load(bytes(wasi))
    no_export = wasmtime.wat2wasm('(module (memory (export "memory") 1))')
    with pytest.raises(InvalidActorModule, match="does not export __guest_call"):
        wapc_runtime.load(bytes(no_export))


def test_wapc_init_runs_and_may_call_the_host(wapc_runtime: WapcRuntime) -> None:
    module = wasmtime.wat2wasm(
        """(module
             (import "wapc" "__console_log" (func $log (param i32 i32)))
             (import "wapc" "__guest_response" (func $respond (param i32 i32)))
             (memory (export "memory") 1)
             (data (i32.const 16) "init")
             (global $ready (mut i32) (i32.const 0))
             (func (export "wapc_init") (global.set $ready (i32.const 1))
               (call $log (i32.const 16) (i32.const 4)))
             (func (export "__guest_call") (param i32 i32) (result i32)
               (call $respond (i32.const 16) (global.get $ready))
               i32.const 1))"""
    )
    lines: list[str] = []
    instance = wapc_runtime.instantiate(
        wapc_runtime.load(bytes(module)), host_call=lambda *a: b"", console_log=lines.append
    )
    assert lines == ["init"]
    assert instance.call("Any", b"", 1.0) == b"i"  # the response is 1 byte long once ready


def test_committed_module_is_compiled_once(tmp_path: Path) -> None:
    runtime = WapcRuntime(cache_dir=tmp_path)
    try:
        first = runtime.load(actor_bytes("echo"))
        assert runtime.load(actor_bytes("echo")) is first
        assert len(list(tmp_path.glob("*.cwasm"))) == 1
    finally:
        runtime.close()
    again = WapcRuntime(cache_dir=tmp_path)  # a new process would deserialize the file
    try:
        instance = again.instantiate(
            again.load(actor_bytes("echo")), host_call=lambda *a: b"", console_log=print
        )
        assert instance.call("Echo", b"cached", 1.0) == b"cached"
    finally:
        again.close()
