"""Container logs: files per run, tail/limit/since/timestamps, previous, follow, pruning."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
from pathlib import Path

import pytest

from kubelet_core._containers.logs import _tail_offset, decode_log
from kubelet_core._provider.base import LogOptions, ProviderContext
from kubelet_core._provider.errors import NotFound
from tests.containers.conftest import Recorder, container, ctr, make_pod, read_log, state_reason
from tests.containers.pyruntime import PyRuntimeProvider

LINES = ["print", "one", ";", "print", "two", ";", "print", "three", ";", "print", "four"]


@pytest.fixture
async def finished(provider: PyRuntimeProvider, recorder: Recorder) -> PyRuntimeProvider:
    await provider.create_pod(make_pod("lines", [ctr("main", *LINES)], restart_policy="Never"))
    await recorder.phase("lines", "Succeeded")
    return provider


async def test_whole_log_and_file_layout(
    finished: PyRuntimeProvider, context: ProviderContext
) -> None:
    assert await read_log(finished, "lines", "main") == b"one\ntwo\nthree\nfour\n"
    (pod_dir,) = (context.data_dir / "pods").iterdir()
    assert re.fullmatch(r"default_lines_[0-9a-f-]{36}", pod_dir.name)
    stored = (pod_dir / "main" / "0.log").read_bytes()
    assert decode_log(stored) == b"one\ntwo\nthree\nfour\n"
    for record, word in zip(stored.splitlines(), ["one", "two", "three", "four"], strict=True):
        assert re.fullmatch(
            rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F " + word.encode(), record
        )


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (0, b""),
        (1, b"four\n"),
        (2, b"three\nfour\n"),
        (4, b"one\ntwo\nthree\nfour\n"),
        (10, b"one\ntwo\nthree\nfour\n"),
    ],
)
async def test_tail_lines(finished: PyRuntimeProvider, tail: int, expected: bytes) -> None:
    assert await read_log(finished, "lines", "main", tail_lines=tail) == expected


async def test_limit_bytes(finished: PyRuntimeProvider) -> None:
    assert await read_log(finished, "lines", "main", limit_bytes=6) == b"one\ntw"
    assert await read_log(finished, "lines", "main", tail_lines=2, limit_bytes=3) == b"thr"


async def test_since(finished: PyRuntimeProvider) -> None:
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    assert await read_log(finished, "lines", "main", since_time=future) == b""
    assert await read_log(finished, "lines", "main", since_seconds=3600) == (
        b"one\ntwo\nthree\nfour\n"
    )


async def test_timestamps(finished: PyRuntimeProvider) -> None:
    data = (await read_log(finished, "lines", "main", timestamps=True)).decode()
    lines = data.splitlines()
    assert len(lines) == 4
    for line, word in zip(lines, ["one", "two", "three", "four"], strict=True):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z " + word, line), line


def test_tail_offset_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    lines = [f"line {i:06d} " + "x" * 100 + "\n" for i in range(3000)]  # ~340 KB
    path.write_text("".join(lines) + "partial")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = path.read_bytes()
        assert data[_tail_offset(fd, size, 1) :] == b"partial"
        assert data[_tail_offset(fd, size, 1001) :].decode() == "".join(lines[-1000:]) + "partial"
        assert _tail_offset(fd, size, 5000) == 0
    finally:
        os.close(fd)


async def test_previous_and_pruning(
    provider: PyRuntimeProvider, recorder: Recorder, context: ProviderContext
) -> None:
    pod = make_pod(
        "prev",
        [ctr("main", "restart", ";", "exit-until", "3", "1", ";", "gate", "end")],
        restart_policy="OnFailure",
    )
    await provider.create_pod(pod)
    await recorder.status(
        "prev",
        lambda s: (
            container(s, "main")["restartCount"] == 3
            and s["phase"] == "Running"
            and state_reason(s, "main") == "Running"
        ),
    )
    assert await read_log(provider, "prev", "main") == b"restart=3\n"
    assert await read_log(provider, "prev", "main", previous=True) == b"restart=2\n"
    log_dir = context.data_dir / "pods" / f"default_prev_{pod['metadata']['uid']}" / "main"
    assert sorted(p.name for p in log_dir.iterdir()) == ["2.log", "3.log"]


async def test_previous_without_a_previous_run(finished: PyRuntimeProvider) -> None:
    with pytest.raises(NotFound, match='previous terminated container "main"'):
        await read_log(finished, "lines", "main", previous=True)


async def test_not_found(finished: PyRuntimeProvider) -> None:
    with pytest.raises(NotFound, match='pods "nope" not found'):
        await read_log(finished, "nope", "main")
    with pytest.raises(NotFound, match="container ghost is not valid for pod lines"):
        await read_log(finished, "lines", "ghost")


async def test_waiting_container_has_no_log_yet(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    await provider.create_pod(make_pod("wait", [ctr("main", "exit", "0", image="missing/x")]))
    await recorder.status("wait", lambda s: state_reason(s, "main") == "ErrImagePull")
    with pytest.raises(NotFound, match="is waiting to start: ErrImagePull"):
        await read_log(provider, "wait", "main")


async def test_follow_streams_until_the_container_ends(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    script = [
        "print",
        "a",
        ";",
        "gate",
        "g1",
        ";",
        "print",
        "b",
        ";",
        "gate",
        "g2",
        ";",
        "print",
        "c",
    ]
    await provider.create_pod(make_pod("follow", [ctr("main", *script)], restart_policy="Never"))
    await recorder.phase("follow", "Running")
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def reader() -> None:
        options = LogOptions(follow=True)
        async for chunk in provider.container_logs("default", "follow", "main", options):
            await received.put(chunk)

    task = asyncio.create_task(reader())

    async def until(expected: bytes) -> bytes:
        data = b""
        async with asyncio.timeout(2):
            while data != expected:
                data += await received.get()
        return data

    assert await until(b"a\n") == b"a\n"
    loop = asyncio.get_running_loop()
    provider.gate("g1").set()
    began = loop.time()
    assert await until(b"b\n") == b"b\n"
    assert loop.time() - began < 1  # no noticeable polling delay (polls at most every 20 ms)
    assert not task.done()
    provider.gate("g2").set()
    assert await until(b"c\n") == b"c\n"
    async with asyncio.timeout(2):
        await task  # the stream ends with the container
    await recorder.phase("follow", "Succeeded")


async def test_follow_of_a_finished_container_ends_at_once(finished: PyRuntimeProvider) -> None:
    async with asyncio.timeout(1):
        data = await read_log(finished, "lines", "main", follow=True, tail_lines=1)
    assert data == b"four\n"
