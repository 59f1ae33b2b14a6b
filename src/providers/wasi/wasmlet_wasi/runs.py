"""The on-disk record of each container run, so runs outlive the agent that started them.

A module host is a process of its own that keeps running when the agent stops
or is killed; a restarted agent finds its runs again from these records:

``<data_dir>/wasi/runs/<pod-uid>/<container>/<restart>/``
    ``host.json``  written by the agent once the host runs: pid, the process's
                   start time in clock ticks (``/proc/<pid>/stat`` field 22, so
                   a recycled pid is never mistaken for the host), start time;
    ``exit.json``  written by the zygote when it reaps the host: what the host
                   said on its status pipe as the module ended (exit code,
                   reason, message, CPU time), or, for a host that died by a
                   signal, what its wait status says.

The directory is root's: a host, which runs as the pod's user, never writes
here, so nothing a pod plants can redirect or forge a record.

Both are written to a temporary name and renamed, so a reader sees a whole
record or none.  The directory is removed with the pod.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import shutil
from pathlib import Path
from typing import Any

from kubelet_core.containers import ExitStatus

HOST_FILE = "host.json"
EXIT_FILE = "exit.json"


def write_record(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file, fsync-free rename).

    The temporary file is created exclusively and never through a link.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(temporary, flags, 0o644), "w") as out:
        out.write(json.dumps(data))
    os.replace(temporary, path)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def exit_to_json(status: ExitStatus, finished_at: str) -> dict[str, Any]:
    return {
        "exit_code": status.exit_code,
        "reason": status.reason,
        "message": status.message,
        "signal": status.signal,
        "finished_at": finished_at,
    }


def exit_from_json(data: dict[str, Any]) -> ExitStatus:
    signal = data.get("signal")
    return ExitStatus(
        exit_code=int(data.get("exit_code", 1)),
        reason=str(data.get("reason") or ""),
        message=str(data.get("message") or ""),
        signal=int(signal) if signal is not None else None,
    )


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclasses.dataclass(frozen=True)
class RunDir:
    """The record directory of one run of one container."""

    path: Path

    @classmethod
    def of(cls, root: Path, pod_uid: str, container: str, restart: int) -> RunDir:
        return cls(root / pod_uid / container / str(restart))

    @property
    def host_file(self) -> Path:
        return self.path / HOST_FILE

    @property
    def exit_file(self) -> Path:
        return self.path / EXIT_FILE

    def host(self) -> dict[str, Any] | None:
        return read_record(self.host_file)

    def exit_record(self) -> dict[str, Any] | None:
        """``exit.json`` as written (it may carry the host's CPU time)."""
        return read_record(self.exit_file)

    def exit(self) -> tuple[ExitStatus, str] | None:
        """How the run ended and when (RFC 3339), if it has ended and said so."""
        data = read_record(self.exit_file)
        if data is None:
            return None
        return exit_from_json(data), str(data.get("finished_at") or "")


def open_live_host(run: RunDir) -> tuple[int, int] | None:
    """``(pid, pidfd)`` of the run's host if it still runs, else None.

    The pid's start time must match the record both before and after the pidfd
    is opened, so a recycled pid is never taken for the host.
    """
    host = run.host()
    if not host or "pid" not in host:
        return None
    pid = int(host["pid"])
    if process_start_ticks(pid) != host.get("start_ticks"):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    if process_start_ticks(pid) != host.get("start_ticks"):  # recycled meanwhile
        os.close(pidfd)
        return None
    readable, _, _ = select.select([pidfd], [], [], 0)
    if readable:  # it has exited (a zombie nobody reaped yet still has its /proc entry)
        os.close(pidfd)
        return None
    return pid, pidfd


def pod_uids(root: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(root) if entry.is_dir()]
    except FileNotFoundError:
        return []


def runs_of_pod(root: Path, pod_uid: str) -> list[RunDir]:
    """Every run recorded for the pod (any container, any restart)."""
    found: list[RunDir] = []
    pod_dir = root / pod_uid
    with contextlib.suppress(FileNotFoundError):
        for container in os.scandir(pod_dir):
            with contextlib.suppress(NotADirectoryError, FileNotFoundError):
                found.extend(RunDir(Path(run.path)) for run in os.scandir(container.path))
    return found


def remove_pod(root: Path, pod_uid: str) -> None:
    if pod_uid and "/" not in pod_uid and pod_uid not in (".", ".."):
        shutil.rmtree(root / pod_uid, ignore_errors=True)
