"""The module runtime directly: stop latency, grace, CPU limits, usage, compiled-module cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelet_core.containers.runtime import VolumeMount
from kubelet_core.provider.errors import ContainerStartError
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.engine import WasmEngine
from wasmlet_wasi.runtime import ModuleSpec, guest_argv, start_module


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[WasmEngine]:
    eng = WasmEngine(tmp_path / "compiled")
    yield eng
    eng.close()


def spec(tmp_path: Path, module: str, *args: str, **fields: object) -> ModuleSpec:
    values: dict[str, object] = {"env": [], "mounts": [], **fields}
    return ModuleSpec(
        name=module,
        module_path=WASM_DIR / f"{module}.wasm",
        argv=[module, *args],
        log_path=tmp_path / f"{module}.log",
        **values,  # type: ignore[arg-type]
    )


def test_guest_argv_rule() -> None:
    assert guest_argv("app", [], ["a", "b"]) == ["app", "a", "b"]
    assert guest_argv("app", ["/m.wasm", "x"], ["a"]) == ["/m.wasm", "x", "a"]


async def test_stop_spinning_module_latency(engine: WasmEngine, tmp_path: Path) -> None:
    latencies = []
    for _ in range(5):
        running = await start_module(engine, spec(tmp_path, "spin"))
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        await running.stop(5)
        status = await running.wait()
        latencies.append(time.perf_counter() - began)
        assert (status.exit_code, status.signal) == (137, 9)
        assert running.thread is not None
        running.thread.join(1)  # it resolved wait() just before returning
        assert not running.thread.is_alive()
    print(f"stop latency of a spinning module: {[round(x * 1000, 2) for x in latencies]} ms")
    # The target is < 100 ms (measured ~1 ms quiet, see the benchmark); on a shared,
    # loaded 2-core machine a thread switch alone can take longer, so the test
    # only catches a stop that waits for the module instead of interrupting it.
    assert max(latencies) < 1.0


async def test_stop_while_sleeping_waits_for_the_call(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "ticker", "100"))
    await asyncio.sleep(0.15)
    began = time.perf_counter()
    await running.stop(5)
    latency = time.perf_counter() - began
    print(f"stop latency of a module sleeping 100 ms at a time: {latency * 1000:.1f} ms")
    assert latency < 0.5
    assert (await running.wait()).exit_code == 137
    assert (tmp_path / "ticker.log").read_text().startswith("tick 1\n")


async def test_grace_period_ends_a_long_wasi_call(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "scripted", "sleep", "1500"))
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    await running.stop(0.2)
    status = await running.wait()
    assert 0.15 < time.perf_counter() - began < 1.0
    assert status.exit_code == 137 and "grace period" in status.message
    assert running.thread is not None
    await asyncio.to_thread(running.thread.join, 5)  # it ends once the sleep returns
    assert not running.thread.is_alive()


async def test_cpu_budget_is_deadline_exceeded(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "spin", cpu_budget=0.2))
    status = await asyncio.wait_for(running.wait(), 10)
    assert status.reason == "DeadlineExceeded"
    assert 0.2 <= running.usage().cpu_seconds < 0.5


async def test_cpu_limit_throttles(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "spin", cpu_limit=0.25, cpu_budget=0.2))
    began = time.perf_counter()
    await asyncio.wait_for(running.wait(), 10)
    wall = time.perf_counter() - began
    cpu = running.usage().cpu_seconds
    print(f"cpu limit 250m: {cpu:.3f}s of CPU over {wall:.3f}s ({cpu / wall:.2f} cores)")
    assert cpu / wall < 0.4


async def test_usage_reports_cpu_and_memory(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "scripted", "alloc", "4", "spin", "400"))
    await asyncio.sleep(0.3)
    usage = running.usage()
    assert usage.cpu_seconds > 0.05
    assert usage.memory_bytes >= 4 << 20
    await running.stop(1)


async def test_exit_status_out_of_wasi_range(engine: WasmEngine, tmp_path: Path) -> None:
    running = await start_module(engine, spec(tmp_path, "scripted", "exit", "200"))
    status = await running.wait()
    assert status.exit_code == 1
    assert "outside WASI's 0..125" in status.message


async def test_log_is_appended_not_truncated(engine: WasmEngine, tmp_path: Path) -> None:
    log = tmp_path / "scripted.log"
    log.write_text("earlier\n")
    running = await start_module(
        engine, spec(tmp_path, "scripted", "echo", "out", "stderr", "err", "echo", "out2")
    )
    await running.wait()
    assert log.read_text() == "earlier\nout\nerr\nout2\n"


async def test_log_throughput(engine: WasmEngine, tmp_path: Path) -> None:
    """A module writing a lot: every byte reaches the log, in order."""
    words = ["echo", "x" * 1000] * 2000
    running = await start_module(engine, spec(tmp_path, "scripted", *words))
    began = time.perf_counter()
    await running.wait()
    elapsed = time.perf_counter() - began
    size = (tmp_path / "scripted.log").stat().st_size
    print(f"log throughput: {size / elapsed / 1e6:.1f} MB/s ({size} bytes)")
    assert size == 2000 * 1001


async def test_mount_missing_host_dir(engine: WasmEngine, tmp_path: Path) -> None:
    mount = VolumeMount(tmp_path / "nope", "/data")
    with pytest.raises(ContainerStartError, match="WASI can only preopen directories"):
        await start_module(engine, spec(tmp_path, "hello", mounts=[mount]))


async def test_compiled_module_cache(tmp_path: Path) -> None:
    cache = tmp_path / "compiled"
    data = (WASM_DIR / "scripted.wasm").read_bytes()
    first = WasmEngine(cache)
    compiled = first.load(data)
    assert compiled.source == "compiled"
    assert first.load(data).source == "memory"
    second = WasmEngine(cache)  # a restarted agent
    loaded = second.load(data)
    assert loaded.source == "disk"
    print(
        f"scripted.wasm: compile {compiled.seconds * 1000:.1f} ms, "
        f"cache load {loaded.seconds * 1000:.2f} ms"
    )
    assert loaded.seconds < compiled.seconds
    # A corrupt entry is detected by its checksum, dropped and rebuilt.
    entry = second.disk_cache.path_for(loaded.digest)  # type: ignore[union-attr]
    blob = bytearray(entry.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    entry.write_bytes(bytes(blob))
    third = WasmEngine(cache)
    assert third.load(data).source == "compiled"
    assert WasmEngine(cache).load(data).source == "disk"
    for eng in (first, second, third):
        eng.close()
