"""The module hosts directly: stop, limits, usage, logs, and the compiled-module cache.

Each container is a process forked by the zygote; these tests drive
:class:`ModuleHosts` as the provider does and check what the kernel sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kubelet_core._containers.logs import decode_log
from kubelet_core._containers.runtime import VolumeMount
from kubelet_core._provider.errors import ContainerStartError
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.engine import WasmEngine
from wasmlet_wasi.runs import process_start_ticks
from wasmlet_wasi.runtime import ModuleHosts, ModuleSpec, WasiContainer, guest_argv, start_module


def logged(path: Path) -> str:
    """What the module wrote to its log (the file holds CRI log records)."""
    return decode_log(path.read_bytes()).decode()


def spec(tmp_path: Path, module: str, *args: str, **fields: object) -> ModuleSpec:
    values: dict[str, object] = {
        "env": [],
        "mounts": [],
        "run_dir": tmp_path / "runs" / module,
        "log_path": tmp_path / f"{module}.log",
        "module_path": WASM_DIR / f"{module}.wasm",
        **fields,
    }
    return ModuleSpec(
        name=module,
        argv=[module, *args],
        **values,  # type: ignore[arg-type]
    )


def gone(container: WasiContainer) -> bool:
    """The host process no longer exists (or is a zombie about to be reaped)."""
    try:
        state = Path(f"/proc/{container.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_guest_argv_rule() -> None:
    assert guest_argv("app", [], ["a", "b"]) == ["app", "a", "b"]
    assert guest_argv("app", ["/m.wasm", "x"], ["a"]) == ["/m.wasm", "x", "a"]


async def test_each_container_is_its_own_process(hosts: ModuleHosts, tmp_path: Path) -> None:
    first = await start_module(hosts, spec(tmp_path, "scripted", "sleep", "60000"))
    second = await start_module(
        hosts, spec(tmp_path, "scripted", "sleep", "60000", run_dir=tmp_path / "runs" / "2")
    )
    assert len({os.getpid(), first.pid, second.pid}) == 3
    assert os.getsid(first.pid) == first.pid  # its own session: the agent's signals miss it
    await first.stop(1)
    await second.stop(1)


async def test_stop_spinning_module_latency(hosts: ModuleHosts, tmp_path: Path) -> None:
    latencies = []
    for _ in range(5):
        running = await start_module(hosts, spec(tmp_path, "spin"))
        began = time.perf_counter()
        await running.stop(5)
        status = await running.wait()
        latencies.append(time.perf_counter() - began)
        assert (status.exit_code, status.signal) == (137, 9)
        assert gone(running)
    print(f"stop latency of a spinning module: {[round(x * 1000, 2) for x in latencies]} ms")
    assert max(latencies) < 1.0  # SIGKILL: only a loaded machine makes it slow


async def test_stop_ends_a_blocked_wasi_call_at_once(hosts: ModuleHosts, tmp_path: Path) -> None:
    """Audit finding 3: a module blocked in poll_oneoff kept its thread, memory and files
    until the call returned (600 s).  Now its process is gone within the stop."""
    running = await start_module(
        hosts, spec(tmp_path, "scripted", "echo", "ready", "alloc", "16", "sleep", "600000")
    )
    began = time.perf_counter()
    await running.stop(0.2)
    status = await running.wait()
    latency = time.perf_counter() - began
    print(f"stop latency of a module in a 600 s sleep: {latency * 1000:.1f} ms")
    assert status.exit_code == 137
    assert latency < 1.0
    assert gone(running)


async def test_open_files_are_bounded_per_container(hosts: ModuleHosts, tmp_path: Path) -> None:
    """Audit finding 2: a module opening files in a loop took the agent to its fd limit."""
    before = len(os.listdir("/proc/self/fd"))
    running = await start_module(
        hosts,
        spec(
            tmp_path,
            "scripted",
            "open_many",
            "100000",
            mounts=[VolumeMount(tmp_path, "/")],
            open_files=64,
        ),
    )
    status = await running.wait()
    opened = int(logged(tmp_path / "scripted.log").split()[-1])
    assert status.exit_code == 0
    assert 0 < opened < 64  # EMFILE in the module, at its own limit
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # the agent's fds are untouched


async def test_memory_limit_bounds_linear_memory(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(
        hosts, spec(tmp_path, "scripted", "alloc", "100", memory_limit=32 << 20)
    )
    status = await running.wait()
    assert status.reason == "OOMKilled"
    assert "malloc failed" in logged(tmp_path / "scripted.log")


async def test_cpu_budget_is_deadline_exceeded(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "spin", cpu_budget=0.2))
    status = await asyncio.wait_for(running.wait(), 10)
    assert status.reason == "DeadlineExceeded"
    assert 0.2 <= running.usage().cpu_seconds < 0.6


async def test_cpu_limit_throttles(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "spin", cpu_limit=0.25, cpu_budget=0.2))
    began = time.perf_counter()
    await asyncio.wait_for(running.wait(), 10)
    wall = time.perf_counter() - began
    cpu = running.usage().cpu_seconds
    print(f"cpu limit 250m: {cpu:.3f}s of CPU over {wall:.3f}s ({cpu / wall:.2f} cores)")
    assert cpu / wall < 0.45


async def test_usage_reports_cpu_and_memory(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(
        hosts, spec(tmp_path, "scripted", "alloc", "4", "echo", "ready", "spin", "2000")
    )
    log = tmp_path / "scripted.log"
    for _ in range(200):  # the module says when its memory is touched
        if logged(log).startswith("ready"):
            break
        await asyncio.sleep(0.01)
    usage = running.usage()
    assert usage.memory_bytes >= 4 << 20
    await running.stop(1)


async def test_exit_status_out_of_wasi_range(hosts: ModuleHosts, tmp_path: Path) -> None:
    running = await start_module(hosts, spec(tmp_path, "scripted", "exit", "200"))
    status = await running.wait()
    assert status.exit_code == 1
    assert "outside WASI's 0..125" in status.message


async def test_log_is_appended_not_truncated(hosts: ModuleHosts, tmp_path: Path) -> None:
    log = tmp_path / "scripted.log"
    log.write_text("earlier\n")
    running = await start_module(
        hosts, spec(tmp_path, "scripted", "echo", "out", "stderr", "err", "echo", "out2")
    )
    await running.wait()
    assert logged(log) == "earlier\nout\nerr\nout2\n"


async def test_log_throughput(hosts: ModuleHosts, tmp_path: Path) -> None:
    """A module writing a lot: every byte reaches the log, in order."""
    words = ["echo", "x" * 1000] * 2000
    running = await start_module(hosts, spec(tmp_path, "scripted", *words))
    began = time.perf_counter()
    await running.wait()
    elapsed = time.perf_counter() - began
    size = len(logged(tmp_path / "scripted.log"))
    print(f"log throughput: {size / elapsed / 1e6:.1f} MB/s ({size} bytes)")
    assert size == 2000 * 1001


async def test_mount_missing_host_dir(hosts: ModuleHosts, tmp_path: Path) -> None:
    mount = VolumeMount(tmp_path / "nope", "/data")
    with pytest.raises(ContainerStartError, match="WASI can only preopen directories"):
        await start_module(hosts, spec(tmp_path, "hello", mounts=[mount]))


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _children(pid: int) -> list[int]:
    """Its live children (a zombie not reaped yet is none)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(child))
    return found


async def _eventually(condition: Callable[[], bool]) -> bool:
    """``condition`` within 10 s (what /proc shows changes when a process leaves)."""
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 - /proc
        await asyncio.sleep(0.01)
    return condition()


async def test_hosts_are_the_forkers_then_the_zygotes_and_a_dead_forker_is_replaced(
    hosts: ModuleHosts, tmp_path: Path
) -> None:
    """The zygote's forker forks the hosts and reaps them for the zygote; one that
    dies leaves its hosts to the zygote (a subreaper), which reaps them itself, and
    is replaced by the next spawn.  Every host's end is recorded either way."""
    first = await start_module(hosts, spec(tmp_path, "scripted", "sleep", "60000"))
    assert hosts._process is not None
    zygote = hosts._process.pid
    forker = _parent(first.pid)
    assert _parent(forker) == zygote
    os.kill(forker, signal.SIGKILL)
    assert await _eventually(lambda: _parent(first.pid) == zygote)
    second = await start_module(
        hosts, spec(tmp_path, "scripted", "sleep", "60000", run_dir=tmp_path / "runs" / "2")
    )
    assert _parent(second.pid) not in (forker, zygote)
    assert _parent(_parent(second.pid)) == zygote
    assert await _eventually(lambda: forker not in _children(zygote))  # reaped
    for running in (first, second):
        await running.stop(0)
        assert (await running.wait()).exit_code == 137
    done = await start_module(hosts, spec(tmp_path, "hello", run_dir=tmp_path / "runs" / "3"))
    assert (await done.wait()).exit_code == 0  # reaped by the forker, recorded by the zygote


def _name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _spares(parent: int) -> list[int]:
    found = []
    for child in _children(parent):
        with contextlib.suppress(OSError):
            if _name(child) == "wasmlet-spare":
                found.append(child)
    return found


async def test_the_next_host_is_forked_ahead_and_leaves_with_its_forker(
    hosts: ModuleHosts, tmp_path: Path
) -> None:
    """The forker forks each host before its request comes (a fork is milliseconds
    here), so a start does not wait for one; the spare that is waiting when its
    forker ends leaves too, and no process of ours is left over."""
    first = await start_module(hosts, spec(tmp_path, "scripted", "sleep", "60000"))
    assert _name(first.pid) == "wasmlet-host"  # ps tells hosts apart
    forker = _parent(first.pid)
    assert await _eventually(lambda: len(_spares(forker)) == 1)
    (spare,) = _spares(forker)
    second = await start_module(
        hosts, spec(tmp_path, "scripted", "sleep", "60000", run_dir=tmp_path / "runs" / "2")
    )
    assert second.pid == spare and _name(spare) == "wasmlet-host"
    assert await _eventually(lambda: len(_spares(forker)) == 1)
    (waiting,) = _spares(forker)
    os.kill(forker, signal.SIGKILL)
    assert await _eventually(lambda: not Path(f"/proc/{waiting}").exists())  # and reaped
    assert first.alive and second.alive  # the hosts stay: they are the zygote's now
    for running in (first, second):
        await running.stop(0)
        assert (await running.wait()).exit_code == 137


async def test_not_a_module_fails_before_forking(hosts: ModuleHosts, tmp_path: Path) -> None:
    with pytest.raises(ContainerStartError, match="not a wasm module"):
        await start_module(hosts, spec(tmp_path, "notwasm"))
    assert hosts.spawned == 0


async def test_host_survives_its_zygote_and_is_adopted(hosts: ModuleHosts, tmp_path: Path) -> None:
    """A new ModuleHosts (a restarted agent) adopts a host by its record, pid reuse-safe."""
    running = await start_module(hosts, spec(tmp_path, "scripted", "sleep", "60000"))
    record = running.run.host()
    assert record is not None and record["start_ticks"] == process_start_ticks(running.pid)
    running.detach()
    await hosts.close()
    again = ModuleHosts(tmp_path / "compiled")
    adopted = again.adopt(running.run)
    assert adopted is not None and adopted.pid == running.pid
    await adopted.stop(1)
    assert (await adopted.wait()).exit_code == 137
    assert again.adopt(running.run) is None  # gone: never adopted twice


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


async def test_hundreds_of_starts_at_once(hosts: ModuleHosts, tmp_path: Path) -> None:
    """More requests than the zygote's socket holds: each waits its turn, none is lost."""
    specs = [
        spec(tmp_path, "scripted", "echo", str(i), run_dir=tmp_path / "runs" / str(i),
             log_path=tmp_path / f"{i}.log")
        for i in range(600)
    ]  # fmt: skip
    started = await asyncio.wait_for(asyncio.gather(*(start_module(hosts, s) for s in specs)), 120)
    statuses = await asyncio.gather(*(c.wait() for c in started))
    assert [s.exit_code for s in statuses] == [0] * 600
    assert all(logged(tmp_path / f"{i}.log") == f"{i}\n" for i in range(600))


def big_module(functions: int) -> bytes:
    """A valid WASI command with many functions: seconds to compile."""
    import wasmtime

    body = "(local.get 0)" + " (i32.const 3) (i32.mul) (i32.const 7) (i32.add)" * 40
    funcs = "".join(f"(func (param i32) (result i32) {body})" for _ in range(functions))
    return bytes(
        wasmtime.wat2wasm(
            '(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))'
            f' (memory (export "memory") 1) {funcs} (func (export "_start")))'
        )
    )


async def test_compiling_a_big_module_holds_up_no_other_start(
    hosts: ModuleHosts, tmp_path: Path
) -> None:
    """Review finding: compiling ran in the zygote itself, as root, and every start on
    the node waited behind it.  Now a confined worker compiles; the zygote goes on."""
    warm = await start_module(hosts, spec(tmp_path, "hello"))  # compiled and cached
    assert (await warm.wait()).exit_code == 0
    big = tmp_path / "big.wasm"
    big.write_bytes(await asyncio.to_thread(big_module, 24000))
    compiling = asyncio.create_task(
        start_module(hosts, spec(tmp_path, "big", module_path=big, run_dir=tmp_path / "b"))
    )
    quick = await start_module(hosts, spec(tmp_path, "hello", run_dir=tmp_path / "q"))
    assert not compiling.done(), "a start waited for another module's compilation"
    assert (await quick.wait()).exit_code == 0
    host = await asyncio.wait_for(compiling, 120)
    assert (await host.wait()).exit_code == 0


#: What the zygote must not import: every module it holds is page tables each fork copies
#: and pages a host may touch (see kubelet_core._lazy).
HEAVY_FOR_A_HOST = (
    "aiohttp",
    "structlog",
    "prometheus_client",
    "kubelet_core._apiclient.client",
    "kubelet_core._modules.store",
    "kubelet_core._containers.provider",
    "kubelet_core._volumes.objects",
)


def test_the_zygote_imports_only_what_a_host_runs() -> None:
    probe = (
        "import sys, wasmlet_wasi.zygote;"
        f"print(','.join(m for m in {HEAVY_FOR_A_HOST!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "", f"the zygote imports {result.stdout.strip()}"
