"""Container log files: where they live, how many are kept, and how they are served.

Each run of a container appends its stdout and stderr to
``<data_dir>/pods/<namespace>_<name>_<uid>/<container>/<restartCount>.log``
(kubelet's ``/var/log/pods`` layout); the runtime writes the file directly,
so no Python runs per write.  Only the current and the previous run are kept
(``kubectl logs --previous``); the pod's directory goes with the pod.

:func:`stream_log` serves a file with the ``/containerLogs`` options.  Lines
carry no timestamps on disk, so ``sinceSeconds``/``sinceTime`` use the file's
mtime (a file last written before the bound yields nothing old, and with
``follow`` only new bytes), and ``timestamps`` stamps each line with the time
it was read -- the file's mtime for bytes already there, "now" for followed
bytes.  ``follow`` checks the file size every few milliseconds after new
bytes (backing off to ``poll_max`` when idle) and ends as soon as the run's
``ended`` event is set, after reading what is left.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from kubelet_core.containers.volumes import pod_dir_name
from kubelet_core.provider.base import KubeObject, LogOptions

_CHUNK = 64 * 1024
#: How many log files (runs) of one container are kept.
KEEP_RUNS = 2


class LogStore:
    """Allocates, prunes and removes the log files under ``<data_dir>/pods``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def pod_dir(self, pod: KubeObject) -> Path:
        return self.root / pod_dir_name(pod)

    def path(self, pod: KubeObject, container: str, restart_count: int) -> Path:
        return self.pod_dir(pod) / container / f"{restart_count}.log"

    def allocate(self, pod: KubeObject, container: str, restart_count: int) -> Path:
        """Create (empty) the file of this run, removing runs older than the previous one."""
        path = self.path(pod, container, restart_count)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        if restart_count >= KEEP_RUNS:
            for old in path.parent.glob("*.log"):
                stem = old.stem
                if stem.isdigit() and int(stem) <= restart_count - KEEP_RUNS:
                    old.unlink(missing_ok=True)
        return path

    def remove_pod(self, pod: KubeObject) -> None:
        shutil.rmtree(self.pod_dir(pod), ignore_errors=True)


def _rfc3339nano(timestamp: float) -> bytes:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()


def _tail_offset(fd: int, size: int, lines: int) -> int:
    """The offset where the last ``lines`` lines of the file start."""
    if lines <= 0:
        return size
    end = size
    if end and os.pread(fd, 1, end - 1) == b"\n":
        end -= 1  # a final newline ends the last line; it does not start another
    found = 0
    pos = end
    while pos > 0:
        start = max(0, pos - _CHUNK)
        chunk = os.pread(fd, pos - start, start)
        cut = len(chunk)
        while True:
            index = chunk.rfind(b"\n", 0, cut)
            if index < 0:
                break
            found += 1
            if found == lines:
                return start + index + 1
            cut = index
        pos = start
    return 0


class _Stamper:
    """Prefixes each line with a timestamp, carrying partial lines across chunks."""

    def __init__(self) -> None:
        self._at_line_start = True

    def stamp(self, data: bytes, when: float) -> bytes:
        prefix = _rfc3339nano(when) + b" "
        out = bytearray()
        for line in data.splitlines(keepends=True):
            if self._at_line_start:
                out += prefix
            out += line
            self._at_line_start = line.endswith(b"\n")
        return bytes(out)


async def stream_log(
    path: Path,
    options: LogOptions,
    *,
    ended: asyncio.Event | None = None,
    poll_max: float = 0.05,
) -> AsyncIterator[bytes]:
    """Yield the log at ``path`` per ``options``; with ``follow``, until ``ended`` is set."""
    fd = os.open(path, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        offset = 0
        since = _since(options)
        if since is not None and stat.st_mtime < since:
            offset = stat.st_size
        if options.tail_lines is not None:
            offset = max(offset, _tail_offset(fd, stat.st_size, options.tail_lines))
        budget = options.limit_bytes
        stamper = _Stamper() if options.timestamps else None
        follow = options.follow and ended is not None
        existing_mtime = stat.st_mtime  # stamps the bytes already there
        caught_up = False
        delay = 0.005
        while True:
            size = os.fstat(fd).st_size
            if size < offset:  # truncated: start over
                offset = 0
            while offset < size:
                data = os.pread(fd, min(_CHUNK, size - offset), offset)
                if not data:
                    break
                offset += len(data)
                if stamper is not None:
                    when = _now() if caught_up else existing_mtime
                    data = stamper.stamp(data, when)
                if budget is not None:
                    data = data[:budget]
                    budget -= len(data)
                yield data
                if budget is not None and budget <= 0:
                    return
                delay = 0.005
            caught_up = True
            if not follow or ended is None:
                return
            if ended.is_set():
                if os.fstat(fd).st_size > offset:
                    continue  # bytes written just before the end
                return
            try:
                await asyncio.wait_for(ended.wait(), timeout=delay)
            except TimeoutError:
                delay = min(delay * 2, poll_max)
    finally:
        os.close(fd)


def _now() -> float:
    return datetime.datetime.now(datetime.UTC).timestamp()


def _since(options: LogOptions) -> float | None:
    if options.since_time is not None:
        moment = options.since_time
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    if options.since_seconds is not None:
        return _now() - options.since_seconds
    return None
