"""Container log files: where they live, how they rotate, how many are kept, how they are served.

Each run of a container appends its stdout and stderr to
``<data_dir>/pods/<namespace>_<name>_<uid>/<container>/<restartCount>.log``
(kubelet's ``/var/log/pods`` layout) in the CRI log format kubelet reads:
one record per line, ``<RFC 3339 nano time> <stdout|stderr> <F|P> <line>``.
The runtime writes the file itself through :class:`LogWriter`.  Only the
current and the previous run are kept (``kubectl logs --previous``); the
pod's directory goes with the pod.

Rotation (:class:`LogWriter`, used by the providers where the bytes are
written): before a write would take the current file past
``LogPolicy.max_bytes`` the file is renamed ``<restart>.log.<n>`` (``n``
counting up from 1 within the run) and a new ``<restart>.log`` is started;
only the newest ``max_files - 1`` rotated files are kept.  A run thus never
holds more than ``max_files * max_bytes`` bytes, and a container at most
twice that (its previous run), however much a module prints.

Log files outlive the agent: a restarted agent re-creates the pods it finds
in the API with the same uid, and :meth:`LogStore.next_restart` continues
the restart count after the runs already on disk, so the run from before
the restart is served as ``previous`` and nothing is overwritten.

:func:`stream_log` serves a run (its rotated files oldest first, then the
current one) with the ``/containerLogs`` options, as kubelet does: each
record carries its own time, so ``timestamps`` shows it and
``sinceSeconds``/``sinceTime`` drop the records written before the bound
(files last written before it are skipped unread); ``tailLines`` counts
records from the end; ``limitBytes`` counts the bytes served.  ``follow``
checks the file size every few milliseconds after new bytes (backing off to
``poll_max`` when idle), moves to the next file when the current one was
rotated under it, and ends as soon as the run's ``ended`` event is set,
after reading what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import shutil
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kubelet_core._containers.poddir import pod_dir_name
from kubelet_core._provider.base import KubeObject, LogOptions, LogPolicy
from kubelet_core._provider.names import (
    InvalidName,
    check_container_name,
    check_namespace,
    check_pod_name,
    check_uid,
)

_CHUNK = 64 * 1024
#: How many log files (runs) of one container are kept.
KEEP_RUNS = 2


def _run_of(name: str) -> int | None:
    """The restart number of a log file name (``3.log``, ``3.log.2``), None for others."""
    head, sep, _ = name.partition(".log")
    return int(head) if sep and head.isdigit() else None


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the run logged at ``path``, oldest first."""
    prefix = path.name + "."
    numbered: list[tuple[int, Path]] = []
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            numbered.append((int(name[len(prefix) :]), path.parent / name))
    numbered.sort()
    return [file for _, file in numbered]


def run_files(path: Path) -> list[Path]:
    """Every file of the run logged at ``path``, in the order its bytes were written."""
    return [*rotated_files(path), path]


class LogStore:
    """Allocates, prunes, finds and removes the log files under ``<data_dir>/pods``.

    Every path is built from names checked as Kubernetes validates them
    (:mod:`kubelet_core._provider.names`): a namespace, pod name, uid or
    container name that could not come from a valid pod raises
    :class:`~kubelet_core._provider.names.InvalidName` before anything touches
    the filesystem, so no ``..`` or ``/`` ever reaches a path.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def pod_dir(self, pod: KubeObject) -> Path:
        meta = pod.get("metadata") or {}
        check_namespace(str(meta.get("namespace", "default")))
        check_pod_name(str(meta.get("name", "")))
        check_uid(str(meta.get("uid", "")))
        return self.root / pod_dir_name(pod)

    def container_dir(self, pod_dir: Path, container: str) -> Path:
        """``pod_dir/container`` for a valid container name (InvalidName otherwise)."""
        return pod_dir / check_container_name(container)

    def path(self, pod: KubeObject, container: str, restart_count: int) -> Path:
        return self.container_dir(self.pod_dir(pod), container) / f"{int(restart_count)}.log"

    def next_restart(self, pod: KubeObject, container: str) -> int:
        """The restart count after the runs already on disk (0 for a new pod)."""
        try:
            names = os.listdir(self.container_dir(self.pod_dir(pod), container))
        except FileNotFoundError:
            return 0
        runs = [run for run in map(_run_of, names) if run is not None]
        return max(runs) + 1 if runs else 0

    def allocate(self, pod: KubeObject, container: str, restart_count: int) -> Path:
        """Create (empty) the file of this run, removing runs older than the previous one."""
        path = self.path(pod, container, restart_count)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.iterdir():
            run = _run_of(old.name)
            if run is None:
                continue
            if run <= restart_count - KEEP_RUNS or (run == restart_count and old != path):
                old.unlink(missing_ok=True)
        # The run's directory may belong to the pod's user: never follow a link there.
        with contextlib.suppress(FileNotFoundError):
            if path.is_symlink():
                path.unlink()
        os.close(os.open(path, _TRUNCATE, 0o640))
        return path

    def find_pod_dir(self, namespace: str, name: str) -> Path | None:
        """The newest log directory of pod ``namespace/name`` on disk (any uid), if any.

        Only real directories count (a symlink named like one is skipped).
        Namespaces and pod names contain no ``_``, so the prefix is unambiguous.
        """
        prefix = f"{check_namespace(namespace)}_{check_pod_name(name)}_"
        try:
            with os.scandir(self.root) as entries:
                found = [
                    (entry.stat(follow_symlinks=False).st_mtime, entry.path)
                    for entry in entries
                    if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return None
        if not found:
            return None
        return Path(max(found)[1])

    def remove_pod(self, pod: KubeObject) -> None:
        try:
            pod_dir = self.pod_dir(pod)
        except InvalidName:
            return  # no such directory can exist
        shutil.rmtree(pod_dir, ignore_errors=True)


def runs_on_disk(container_dir: Path) -> list[int]:
    """Restart numbers with a current log file in ``container_dir``, ascending."""
    try:
        names = os.listdir(container_dir)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-4]) for n in names if n.endswith(".log") and n[:-4].isdigit())


_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
_TRUNCATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW


class LogWriter:
    """Appends a run's output to its log file as CRI log records, rotating by size.

    Not thread-safe: callers serialize writes (one pump thread, or a lock).
    Each :meth:`write` becomes records ``<RFC 3339 nano time> <stream> <F|P>
    <line>\n`` (kubelet's CRI log format, what ``kubectl logs`` reads through
    kubelet), all stamped with the time of the write.  A line that ends in the
    chunk is tagged ``F``; a line longer than :data:`MAX_LINE` bytes, or the
    unfinished tail of a chunk (no newline yet), goes out at once tagged
    ``P``, and the reader joins it with what follows.

    Rotation works per record: before a record would take the current file
    past ``LogPolicy.max_bytes`` the file is renamed and a new one started,
    so no record straddles two files (a line too long for one file is cut
    into ``P`` records that each fit).  Between rotations a write is one
    ``write(2)``.  If rotating fails (the pod's directory was removed under a
    running module) the file is truncated instead, so a flood can still not
    fill the disk.
    """

    def __init__(self, path: Path, policy: LogPolicy | None = None) -> None:
        self.path = path
        self.policy = policy
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rotation works relative to the directory's fd: a writer that has since lost
        # the right to walk the path (a module host running as the pod's user) still
        # rotates, and a directory renamed or replaced meanwhile is never written.
        self._dir = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._fd = os.open(path.name, _APPEND, 0o640, dir_fd=self._dir)
        self._size = os.fstat(self._fd).st_size
        rotated = rotated_files(path)
        self._rotated = [int(file.name.rsplit(".", 1)[1]) for file in rotated]
        self.rotations = 0
        # The longest line one record carries: kubelet's limit, or less where a
        # record must fit in one rotated file.
        self._max_line = MAX_LINE
        if policy is not None:
            self._max_line = max(1, min(MAX_LINE, policy.max_bytes - _RECORD_OVERHEAD))

    def write(self, data: bytes | bytearray | memoryview, stream: str = "stdout") -> None:
        """Append ``data`` (output of ``stream``: ``stdout`` or ``stderr``) as records."""
        if not data:
            return
        head = _timestamp(time.time_ns()) + (b" stderr " if stream == "stderr" else b" stdout ")
        records = _records(bytes(data), head, self._max_line)
        policy = self.policy
        if policy is None or self._size + sum(map(len, records)) <= policy.max_bytes:
            self._write_all(b"".join(records))
            return
        batch: list[bytes] = []
        room = policy.max_bytes - self._size
        for record in records:
            if len(record) > room and (batch or self._size):
                self._write_all(b"".join(batch))
                batch.clear()
                self._rotate(policy)
                room = policy.max_bytes - self._size
            batch.append(record)
            room -= len(record)
        self._write_all(b"".join(batch))

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._size += written
            view = view[written:]

    def _rotate(self, policy: LogPolicy) -> None:
        number = (self._rotated[-1] if self._rotated else 0) + 1
        name = self.path.name
        try:
            os.rename(name, f"{name}.{number}", src_dir_fd=self._dir, dst_dir_fd=self._dir)
            fd = os.open(name, _APPEND, 0o640, dir_fd=self._dir)
        except OSError:
            os.ftruncate(self._fd, 0)
            self._size = 0
            return
        os.close(self._fd)
        self._fd, self._size = fd, 0
        self._rotated.append(number)
        self.rotations += 1
        while len(self._rotated) > policy.max_files - 1:
            old = self._rotated.pop(0)
            try:
                os.unlink(f"{name}.{old}", dir_fd=self._dir)
            except FileNotFoundError:
                pass

    def chown(self, uid: int, gid: int = -1) -> None:
        """Give the current file to ``uid`` (by descriptor: no path, no link followed)."""
        os.fchown(self._fd, uid, gid)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._dir >= 0:
            os.close(self._dir)
            self._dir = -1


#: kubelet's (and containerd's) longest log line: longer ones are split into P records.
MAX_LINE = 16 * 1024
#: Bytes a record adds to its line: time (30), `` stdout F `` (10), the newline.
_RECORD_OVERHEAD = 41
_second_cache: tuple[int, bytes] = (-1, b"")


def _timestamp(ns: int) -> bytes:
    """``ns`` since the epoch as RFC 3339 in UTC with nine fraction digits.

    Always nine (Go's RFC3339Nano trims zeros; every parser reads both), so
    the records' times compare as bytes.
    """
    global _second_cache
    seconds, fraction = divmod(ns, 1_000_000_000)
    cached_second, text = _second_cache
    if cached_second != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)).encode()
        _second_cache = (seconds, text)
    return b"%s.%09dZ" % (text, fraction)


def _records(data: bytes, head: bytes, max_line: int) -> list[bytes]:
    """The CRI records for one chunk of output (``head`` is time and stream)."""
    full, partial = head + b"F ", head + b"P "
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: unfinished ("" if the chunk ended a line)
    records: list[bytes] = []
    for line in lines:
        while len(line) > max_line:
            records.append(partial + line[:max_line] + b"\n")
            line = line[max_line:]
        records.append(full + line + b"\n")
    while tail:
        records.append(partial + tail[:max_line] + b"\n")
        tail = tail[max_line:]
    return records


def _tail_offset(fd: int, size: int, lines: int) -> int:
    """The offset where the last ``lines`` lines of the file start."""
    index, offset = _tail_position([(fd, size)], lines)
    return offset if index == 0 else 0


def _tail_position(files: list[tuple[int, int]], lines: int) -> tuple[int, int]:
    """(file index, offset) where the last ``lines`` lines of the files, concatenated, start."""
    if not files:
        return 0, 0
    if lines <= 0:
        return len(files) - 1, files[-1][1]
    found = 0
    last_byte = True  # a final newline ends the last line; it does not start another
    for index in range(len(files) - 1, -1, -1):
        fd, size = files[index]
        pos = size
        while pos > 0:
            start = max(0, pos - _CHUNK)
            chunk = os.pread(fd, pos - start, start)
            cut = len(chunk)
            if last_byte and cut:
                last_byte = False
                if chunk.endswith(b"\n"):
                    cut -= 1
            while True:
                newline = chunk.rfind(b"\n", 0, cut)
                if newline < 0:
                    break
                found += 1
                if found == lines:
                    return index, start + newline + 1
                cut = newline
            pos = start
    return 0, 0


class _Decoder:
    """Turns CRI records back into the container's output, per the ``/containerLogs`` query.

    A record's line is shown with its newline when tagged ``F`` and without
    when tagged ``P`` (the rest of the line follows in the next record), as
    kubelet does.  ``timestamps`` puts the record's own time in front of each
    line (once per line: not again on a ``P`` record's continuation);
    ``since`` (a time in the records' fixed-width format) drops records
    written before it.  A line that is not a CRI record (a file written by
    something else, or before this format) is shown as it is, stamped with
    the time of its file.  Bytes after the last newline wait for the rest.
    """

    def __init__(self, timestamps: bool, since: bytes | None) -> None:
        self._timestamps = timestamps
        self._since = since
        self._pending = b""
        self._line_open = False  # the last record shown was a P: its line goes on

    def feed(self, data: bytes, fallback_time: float) -> bytes:
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        if not cut:
            return b""
        records = data[:cut].split(b"\n")
        records.pop()
        return self._decode(records, fallback_time)

    def finish(self, fallback_time: float) -> bytes:
        """The unterminated bytes left at the end of the log, as a last record."""
        rest, self._pending = self._pending, b""
        return self._decode([rest], fallback_time) if rest else b""

    def _decode(self, records: list[bytes], fallback_time: float) -> bytes:
        out = bytearray()
        since, timestamps = self._since, self._timestamps
        for record in records:
            when, _, rest = record.partition(b" ")
            stream, _, rest = rest.partition(b" ")
            tag, _, line = rest.partition(b" ")
            partial = tag[:1] == b"P"
            if stream not in _STREAMS or tag[:1] not in _TAGS:
                when, line, partial = b"", record, False  # not a record: the line as it is
            elif since is not None and when < since:
                continue
            if timestamps and not self._line_open:
                out += (when or _timestamp(int(fallback_time * 1e9))) + b" "
            out += line
            if not partial:
                out += b"\n"
            self._line_open = partial
        return bytes(out)


_STREAMS = (b"stdout", b"stderr")
_TAGS = (b"F", b"P")


def decode_log(data: bytes) -> bytes:
    """The output kept in CRI log records ``data``: what ``kubectl logs`` shows."""
    decoder = _Decoder(timestamps=False, since=None)
    return decoder.feed(data, 0.0) + decoder.finish(0.0)


def _open_log(path: Path) -> tuple[int, os.stat_result] | None:
    """A log file, opened for reading; None if it is gone -- or is not a regular file
    (a link planted by the pod's user must never serve another file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, OSError):
        return None  # pruned meanwhile, or a link (ELOOP)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return fd, info


def _open_all(paths: list[Path]) -> list[tuple[int, os.stat_result]]:
    return [opened for opened in map(_open_log, paths) if opened is not None]


def _open_after(path: Path, inode: int) -> tuple[int, os.stat_result] | None:
    """The file of the run at ``path`` that follows the one with ``inode``, once rotated.

    None while ``path`` is still that file.  If the file was pruned already,
    every file left is newer (the oldest go first), so the oldest left follows.
    """
    try:
        if os.stat(path).st_ino == inode:
            return None
    except FileNotFoundError:
        return None
    files = run_files(path)
    inodes = []
    for file in files:
        try:
            inodes.append(os.stat(file).st_ino)
        except FileNotFoundError:
            inodes.append(-1)
    start = inodes.index(inode) + 1 if inode in inodes else 0
    for file in files[start:]:
        opened = _open_log(file)
        if opened is not None:
            return opened
    return None


def _start_position(
    opened: list[tuple[int, os.stat_result]], options: LogOptions, since: float | None
) -> tuple[int, int]:
    """(file index, offset) where serving starts, per ``since*`` and ``tailLines``."""
    index, offset = 0, 0
    if since is not None:
        index = next((i for i, (_, st) in enumerate(opened) if st.st_mtime >= since), -1)
        if index < 0:  # nothing recent: only what comes next
            index, offset = len(opened) - 1, opened[-1][1].st_size
    if options.tail_lines is not None:
        tail = _tail_position([(fd, st.st_size) for fd, st in opened], options.tail_lines)
        index, offset = max((index, offset), tail)
    return index, offset


async def stream_log(
    path: Path,
    options: LogOptions,
    *,
    ended: asyncio.Event | None = None,
    poll_max: float = 0.05,
) -> AsyncIterator[bytes]:
    """Yield the run logged at ``path`` per ``options``; with ``follow``, until ``ended`` is set."""
    pending = _open_all(run_files(path))
    if not pending:
        raise FileNotFoundError(path)
    fd = -1
    try:
        since = _since(options)
        index, offset = _start_position(pending, options, since)
        for skipped, _ in pending[:index]:
            os.close(skipped)
        fd, stat = pending[index]
        del pending[: index + 1]
        budget = options.limit_bytes
        decoder = _Decoder(
            options.timestamps, None if since is None else _timestamp(int(since * 1e9))
        )
        follow = options.follow and ended is not None
        existing_mtime = stat.st_mtime  # stamps lines that are not records
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
                data = decoder.feed(data, _now() if caught_up else existing_mtime)
                if not data:
                    continue
                if budget is not None:
                    data = data[:budget]
                    budget -= len(data)
                yield data
                if budget is not None and budget <= 0:
                    return
                delay = 0.005
            if pending:  # the next file that was there when we started
                os.close(fd)
                fd, stat = pending.pop(0)
                offset, existing_mtime = 0, stat.st_mtime
                continue
            caught_up = True
            if not follow or ended is None:
                break
            after = _open_after(path, stat.st_ino)
            if after is not None:  # rotated under us: what we have is complete
                if os.fstat(fd).st_size > offset:
                    os.close(after[0])
                    continue
                os.close(fd)
                fd, stat = after
                offset = 0
                continue
            if ended.is_set():
                if os.fstat(fd).st_size > offset:
                    continue  # bytes written just before the end
                break
            try:
                async with asyncio.timeout(delay):
                    await ended.wait()
            except TimeoutError:
                delay = min(delay * 2, poll_max)
        rest = decoder.finish(existing_mtime)
        if budget is not None:
            rest = rest[:budget]
        if rest:
            yield rest
    finally:
        if fd >= 0:
            os.close(fd)
        for extra, _ in pending:
            os.close(extra)


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
