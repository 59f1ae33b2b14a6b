"""Log rotation by size, serving across rotated files, logs across agent restarts, pod stats.

The writer and reader are exercised directly (exact file layouts and
byte-for-byte contents), then through the real WASI provider: a module
flooding stdout stays within ``max_files * max_bytes``, a provider started
again on the same data dir (an agent restart) serves the old run as
``previous``, and ``pod_stats`` reports real CPU time and memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import re
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._containers.logs import LogWriter, decode_log, run_files, stream_log
from kubelet_core._provider.base import KubeObject, LogOptions, LogPolicy, ProviderContext
from kubelet_core._provider.errors import NotFound
from kubelet_core._provider.stats import StatsProvider
from tests.containers.conftest import FAST, Recorder, container, make_pod
from wasmlet_wascc.logfile import ContainerLog
from wasmlet_wasi.provider import WasiProvider

WASM = Path(__file__).resolve().parents[2] / "testdata" / "wasm"
SCRIPTED = "wasmlet.test/scripted:v1"


def record(when: float, line: bytes, tag: bytes = b"F") -> bytes:
    """One CRI log record, as kubelet's runtime writes it (nine fraction digits, UTC)."""
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(when)))
    return b"%s.%09dZ stdout %s %s\n" % (moment.encode(), int(when % 1 * 1e9), tag, line)


def served(files: list[Path]) -> bytes:
    """What the files hold, as the container wrote it."""
    return decode_log(b"".join(f.read_bytes() for f in files))


def numbered(count: int, start: int = 1) -> bytes:
    return b"".join(b"line %05d\n" % n for n in range(start, start + count))  # 11 bytes each


async def read(path: Path, **options: Any) -> bytes:
    return b"".join([chunk async for chunk in stream_log(path, LogOptions(**options))])


def test_policy_from_settings() -> None:
    assert LogPolicy.parse("10Mi", 5) == LogPolicy(10 << 20, 5)
    assert LogPolicy.parse("64Ki", 2) == LogPolicy(64 << 10, 2)
    assert LogPolicy.parse("1M", 1) == LogPolicy(1_000_000, 1)
    assert LogPolicy.parse("4096", 3) == LogPolicy(4096, 3)
    assert LogPolicy.parse("1.5Mi", 1) == LogPolicy(3 << 19, 1)  # a quantity, as in kubelet
    for bad in ("", "10MB", "-1Mi", "0"):
        with pytest.raises(ValueError):
            LogPolicy.parse(bad, 5)
    with pytest.raises(ValueError):
        LogPolicy.parse("10Mi", 0)


@pytest.mark.parametrize("chunk", [1, 7, 100, 1000, 4096])
def test_writer_rotates_and_keeps_the_newest_files(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "c" / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=1000, max_files=3))
    data = numbered(1000)  # 11,000 bytes
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
    writer.close()
    files = run_files(path)
    rotations = writer.rotations
    assert [f.name for f in files] == [f"0.log.{rotations - 1}", f"0.log.{rotations}", "0.log"]
    assert all(f.stat().st_size <= 1000 for f in files)
    # Full files: a rotated one has no room left for the next record (at most 41 + 11 bytes).
    assert all(f.stat().st_size > 1000 - 52 for f in files[:-1])
    # What is kept is exactly the end of what was written.
    kept = served(files)
    assert data.endswith(kept) and kept.endswith(b"line 01000\n")


def test_single_file_policy_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=100, max_files=1))
    writer.write(numbered(30))  # 51-byte records: one per file
    writer.close()
    assert [f.name for f in run_files(path)] == ["0.log"]
    assert decode_log(path.read_bytes()) == numbered(1, 30)
    # A writer opened on an existing run (a restarted pump) continues its numbering.
    # 50-byte files hold one record of 9 bytes: 120 x are 14 records, 13 rotations.
    first = LogWriter(tmp_path / "1.log", LogPolicy(50, 3))
    first.write(b"x" * 120)
    first.close()
    assert [f.name for f in run_files(tmp_path / "1.log")] == ["1.log.12", "1.log.13", "1.log"]
    again = LogWriter(tmp_path / "1.log", LogPolicy(50, 3))
    again.write(b"y" * 60)  # 7 records, the first after a rotation (the file is full)
    again.close()
    files = run_files(tmp_path / "1.log")
    assert [f.name for f in files] == ["1.log.19", "1.log.20", "1.log"]
    assert all(f.stat().st_size <= 50 for f in files)
    assert served(files) == b"y" * 24  # 9 + 9 + 6: the end of what was written


def test_rotation_failure_truncates_instead(tmp_path: Path) -> None:
    path = tmp_path / "pod" / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=100, max_files=2))
    writer.write(b"a" * 59)  # one record of 100 bytes: the file is full
    os.unlink(path)
    os.rmdir(path.parent)  # the pod's directory went away under a running module
    writer.write(b"b" * 150)  # must not grow an unlinked file forever
    assert os.fstat(writer._fd).st_size <= 100
    writer.close()


def test_wascc_line_writer_rotates_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    log = ContainerLog(path, LogPolicy(max_bytes=4096, max_files=2))

    def chatter(name: str) -> None:
        for n in range(2000):
            log.write(f"{name} {n:05d}")

    threads = [threading.Thread(target=chatter, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    files = run_files(path)
    assert len(files) == 2 and all(f.stat().st_size <= 4096 for f in files)
    kept = served(files)
    lines = kept.splitlines()[1:]  # the first kept line may have lost its head to pruning
    assert lines and all(re.fullmatch(rb"t[0-3] \d{5}", line) for line in lines)
    assert kept.endswith(b"\n")


@pytest.fixture
def rotated(tmp_path: Path) -> Path:
    path = tmp_path / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=510, max_files=4))
    writer.write(numbered(40))  # 51-byte records: 0.log.1 .. 0.log.3 and 0.log, 10 lines each
    writer.close()
    assert [f.name for f in run_files(path)] == ["0.log.1", "0.log.2", "0.log.3", "0.log"]
    return path


async def test_serving_across_rotated_files(rotated: Path) -> None:
    assert await read(rotated) == numbered(40)
    assert await read(rotated, tail_lines=0) == b""
    assert await read(rotated, tail_lines=3) == numbered(3, 38)
    assert await read(rotated, tail_lines=10) == numbered(10, 31)
    assert await read(rotated, tail_lines=11) == numbered(11, 30)
    assert await read(rotated, tail_lines=25) == numbered(25, 16)
    assert await read(rotated, tail_lines=1000) == numbered(40)
    assert await read(rotated, limit_bytes=115) == numbered(11)[:115]
    assert await read(rotated, tail_lines=12, limit_bytes=22) == numbered(2, 29)


async def test_since_and_timestamps_are_each_lines_own(tmp_path: Path) -> None:
    """Line n written at base + n seconds, 10 lines a file: each line keeps its time."""
    path = tmp_path / "0.log"
    base = time.time() - 100.5
    names = ["0.log.1", "0.log.2", "0.log.3", "0.log"]
    for index, name in enumerate(names):
        lines = range(index * 10 + 1, index * 10 + 11)
        file = tmp_path / name
        file.write_bytes(b"".join(record(base + n, b"line %05d" % n) for n in lines))
        os.utime(file, (base + lines[-1], base + lines[-1]))  # as the writer left it
    # Lines 1..15 were written more than 85 s ago: 1..10 in a file skipped whole.
    assert await read(path, since_seconds=85) == numbered(25, 16)
    assert await read(path, since_seconds=50) == b""
    since = datetime.datetime.fromtimestamp(base + 30.5, datetime.UTC)
    assert await read(path, since_time=since) == numbered(10, 31)
    stamped = (await read(path, timestamps=True, tail_lines=11)).splitlines()
    expected = [record(base + n, b"line %05d" % n).split(b" stdout F ") for n in range(30, 41)]
    assert [line.split(b" ", 1) for line in stamped] == [[w, b"" + t[:-1]] for w, t in expected]
    assert len({line.split(b" ", 1)[0] for line in stamped}) == 11  # a time per line


async def test_partial_and_long_lines_join_as_kubelet_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = LogWriter(path)
    writer.write(b"no newline yet")  # a P record: served at once, completed later
    writer.write(b", now done\n" + b"z" * (20 << 10) + b"\n", stream="stderr")
    writer.write(b"last\n")
    writer.close()
    tags = [r.split(b" ", 3)[1:3] for r in path.read_bytes().splitlines()]
    assert tags == [
        [b"stdout", b"P"],
        [b"stderr", b"F"],
        [b"stderr", b"P"],  # 16 KiB, kubelet's longest line
        [b"stderr", b"F"],
        [b"stdout", b"F"],
    ]
    whole = b"no newline yet, now done\n" + b"z" * (20 << 10) + b"\nlast\n"
    assert await read(path) == whole
    stamped = (await read(path, timestamps=True)).split(b"\n")
    # One time per line, not per record: the joined lines carry one stamp each.
    assert [line.split(b" ", 1)[1] for line in stamped[:-1]] == whole.split(b"\n")[:-1]
    assert await read(path, tail_lines=1) == b"last\n"


async def test_follow_continues_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=160, max_files=3))  # 3 records a file
    writer.write(numbered(5))
    ended = asyncio.Event()
    received = bytearray()
    progress = asyncio.Event()
    stream = stream_log(path, LogOptions(follow=True), ended=ended, poll_max=0.005)

    async def consume() -> None:
        async for chunk in stream:
            received.extend(chunk)
            progress.set()

    reader = asyncio.create_task(consume())
    expected = numbered(5)
    for batch in range(20):  # 20 x 3 records: a rotation every batch
        while True:  # the reader keeps up, finding each new file itself
            progress.clear()
            if len(received) >= len(expected):
                break
            await asyncio.wait_for(progress.wait(), 5)
        more = numbered(3, 6 + 3 * batch)
        writer.write(more)
        expected += more
    writer.close()
    ended.set()
    await asyncio.wait_for(reader, 5)
    assert bytes(received) == expected
    assert len(run_files(path)) == 3  # rotated many times, only three files left


async def test_follow_from_a_pruned_position_moves_to_the_oldest_file_left(
    tmp_path: Path,
) -> None:
    path = tmp_path / "0.log"
    writer = LogWriter(path, LogPolicy(max_bytes=100, max_files=2))
    writer.write(b"a" * 50)
    ended = asyncio.Event()
    stream = stream_log(path, LogOptions(follow=True), ended=ended, poll_max=0.005)
    assert await anext(stream) == b"a" * 50
    writer.write(b"b" * 350)  # the file being read is rotated away and pruned
    writer.close()
    ended.set()
    rest = b"".join([chunk async for chunk in stream])
    # The file being read held only the a's (no record straddles files); of the six
    # 59-byte records of b's that followed, the two newest are left (59 + 55 bytes).
    assert rest == b"b" * 114


# -- the WASI provider -----------------------------------------------------------------------


#: A minute of sleeping in short naps: a stop lands within 100 ms (a WASI call is not
#: interrupted, so one long sleep would hold a stop for the whole grace period).
NAPS = ("sleep", "100") * 600


def wasi(*args: str) -> KubeObject:
    return {"name": "main", "image": SCRIPTED, "imagePullPolicy": "Never", "args": list(args)}


@pytest.fixture
def policy() -> LogPolicy:
    return LogPolicy(max_bytes=64 << 10, max_files=3)


@pytest.fixture
def context(tmp_path: Path, recorder: Recorder, policy: LogPolicy) -> ProviderContext:
    return ProviderContext(
        node_name="wasi-node",
        node_ip="127.0.0.1",
        data_dir=tmp_path / "node",
        notify_pod_status=recorder.notify,
        record_event=recorder.record,
        modules_dir=tmp_path / "modules",
        log_policy=policy,
    )


async def started(context: ProviderContext) -> WasiProvider:
    prov = WasiProvider(timings=FAST)
    await prov.start(context)
    assert prov.modules is not None
    await prov.modules.import_file(WASM / "scripted.wasm", SCRIPTED)
    return prov


@pytest.fixture
async def wasi_provider(context: ProviderContext) -> AsyncIterator[WasiProvider]:
    prov = await started(context)
    yield prov
    await prov.shutdown()


async def wait_for_output(prov: WasiProvider, pod: str, marker: bytes) -> None:
    """Follow the current log until ``marker`` shows up."""
    seen = b""
    stream = prov.container_logs("default", pod, "main", LogOptions(follow=True))
    async with asyncio.timeout(10):
        async for chunk in stream:
            seen += chunk
            if marker in seen:
                break
    await stream.aclose()  # type: ignore[attr-defined]


async def logs(prov: WasiProvider, pod: str, **options: Any) -> bytes:
    stream = prov.container_logs("default", pod, "main", LogOptions(**options))
    return b"".join([chunk async for chunk in stream])


def disk_usage(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


async def test_a_flooding_module_stays_within_the_budget(
    wasi_provider: WasiProvider, recorder: Recorder, context: ProviderContext, policy: LogPolicy
) -> None:
    kib = 16 << 10  # 16 MiB of output against a 192 KiB budget
    pod = make_pod("flood", [wasi("flood", str(kib), "echo", "done")], restart_policy="Never")
    began = time.perf_counter()
    await wasi_provider.create_pod(pod)
    await recorder.phase("flood", "Succeeded", timeout=60)
    elapsed = time.perf_counter() - began
    log_dir = context.data_dir / "pods"
    assert disk_usage(log_dir) <= policy.max_files * policy.max_bytes
    files = run_files(next(log_dir.glob("default_flood_*")) / "main" / "0.log")
    assert len(files) == policy.max_files
    assert await logs(wasi_provider, "flood", tail_lines=2) == (
        b"flood %09d " % (kib * 8) + b"x" * 111 + b"\ndone\n"
    )
    whole = await logs(wasi_provider, "flood")
    assert whole == served(files)
    print(
        f"flood: {kib >> 10} MiB through the pump in {elapsed:.2f}s "
        f"({(kib >> 10) / elapsed:.0f} MiB/s)"
    )


async def test_logs_survive_a_restarted_provider(
    context: ProviderContext, recorder: Recorder
) -> None:
    """An agent restart: the provider is shut down and a new one re-creates the same pods."""
    first = await started(context)
    done = make_pod("done", [wasi("echo", "finished-before")], restart_policy="Never")
    runs = make_pod("runs", [wasi("echo", "before-restart", *NAPS)])
    await first.create_pod(done)
    await first.create_pod(runs)
    await recorder.phase("done", "Succeeded")
    await recorder.status("runs", lambda s: s["phase"] == "Running")
    await wait_for_output(first, "runs", b"before-restart\n")
    await first.shutdown()

    second = await started(dataclasses.replace(context))
    try:
        # The finished pod is not re-created (the agent leaves terminal pods alone).
        assert await logs(second, "done") == b"finished-before\n"
        with pytest.raises(NotFound, match="previous terminated"):
            await logs(second, "done", previous=True)
        # The running one is: it continues after the run on disk.
        await second.create_pod(runs)
        status = await recorder.status(
            "runs", lambda s: container(s, "main")["restartCount"] == 1 and s["phase"] == "Running"
        )
        assert "running" in container(status, "main")["state"]
        assert await logs(second, "runs", previous=True) == b"before-restart\n"
        await wait_for_output(second, "runs", b"before-restart\n")  # the new run's output
        assert await logs(second, "runs") == b"before-restart\n"
        # Deleting the pods removes their logs.
        await second.delete_pod(runs, 1)
        await second.delete_pod(done, 0)
        assert list((context.data_dir / "pods").iterdir()) == []
    finally:
        await second.shutdown()


async def test_pod_stats_report_cpu_time_and_memory(
    wasi_provider: WasiProvider, recorder: Recorder
) -> None:
    assert isinstance(wasi_provider, StatsProvider)
    pod = make_pod("busy", [wasi("alloc", "8", "spin", "60000")])
    idle = make_pod("idle", [wasi(*NAPS)])
    await wasi_provider.create_pod(pod)
    await wasi_provider.create_pod(idle)
    await recorder.phase("busy", "Running")
    await recorder.phase("idle", "Running")

    async def busy_cpu() -> tuple[int, int]:
        stats = {p.name: p for p in await wasi_provider.pod_stats()}
        (main,) = stats["busy"].containers
        return main.cpu_usage_core_nano_seconds, main.memory_working_set_bytes

    first_cpu, _ = await busy_cpu()
    await asyncio.sleep(0.3)
    cpu, memory = await busy_cpu()
    # A spinning module uses most of a core (the box is shared: be generous).
    assert cpu - first_cpu >= 0.05e9
    assert memory >= 8 << 20  # 8 MiB allocated in linear memory
    stats = {p.name: p for p in await wasi_provider.pod_stats()}
    (sleeper,) = stats["idle"].containers
    assert sleeper.cpu_usage_core_nano_seconds < 0.05e9
    assert 0 < sleeper.memory_working_set_bytes < 16 << 20  # its own pages, not the zygote's
    assert stats["busy"].uid == pod["metadata"]["uid"] and stats["busy"].start_time is not None
    await wasi_provider.delete_pod(pod, 2)
    assert "busy" not in {p.name for p in await wasi_provider.pod_stats()}
