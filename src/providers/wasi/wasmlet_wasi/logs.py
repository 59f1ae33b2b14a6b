"""Getting a module's stdout and stderr into the container's log file.

wasmtime-py offers two sinks: ``stdout_custom`` (a Python callback per write:
every ``printf`` flush takes the GIL back) or ``stdout_file`` (a path that
wasmtime opens itself, *truncating* it and writing at its own offset).  Two
``*_file`` opens of one log would overwrite each other, and truncation would
erase the log of the previous run.

So each container gets a pipe: stdout and stderr are both given
``/proc/self/fd/<write end>``, and opening a pipe through ``/proc`` yields the
same pipe (truncation does not apply), so both streams reach one ordered byte
stream in native code.  A pump thread moves it, in chunks of up to 64 KiB,
through the core's :class:`~kubelet_core.containers.logs.LogWriter`, which
appends and rotates the file by size (``LogPolicy``), so a module flooding
stdout cannot fill the disk.  Python runs once per chunk, not per write, and
the pipe's capacity throttles a module that writes faster than the pump
copies.

The pump sleeps in ``poll`` without a timeout: an idle pod costs no wake-ups
(a 100 ms poll timeout made 100 idle pods wake the agent 1,000 times a second
and cost 2 % of a core).  :meth:`LogPipe.finish` wakes it through an
eventfd; by then the module has ended, so everything it wrote is already in the
pipe buffer, and the pump drains it without blocking and stops, even if
wasmtime still holds a write end.
"""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import structlog

from kubelet_core.containers.logs import LogWriter
from kubelet_core.provider.base import LogPolicy

log = structlog.get_logger(__name__)
_CHUNK = 1 << 16


class LogPipe:
    """A pipe whose read end is copied to ``log_path`` by a thread."""

    def __init__(self, log_path: Path, name: str, policy: LogPolicy | None = None) -> None:
        self._writer = LogWriter(log_path, policy)
        self._read_fd, self._write_fd = os.pipe()
        self._wake = os.eventfd(0)  # one fd (a pipe would cost two per container)
        self._closing = threading.Event()
        self.bytes_copied = 0
        self.bytes_dropped = 0
        self._thread = threading.Thread(target=self._pump, name=f"wasi-log-{name}", daemon=True)
        self._thread.start()

    @property
    def rotations(self) -> int:
        return self._writer.rotations

    @property
    def guest_path(self) -> str:
        """What to give WasiConfig.stdout_file / stderr_file."""
        return f"/proc/self/fd/{self._write_fd}"

    def release_write_end(self) -> None:
        """Drop our own write end once wasmtime has opened its copies."""
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1

    def finish(self, timeout: float = 2.0) -> None:
        """Wait until everything written so far is in the log, then close."""
        self.release_write_end()
        if self._closing.is_set():
            self._thread.join(timeout)
            return
        self._closing.set()
        os.eventfd_write(self._wake, 1)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            os.close(self._wake)

    def _pump(self) -> None:
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN | select.POLLHUP)
        poller.register(self._wake, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if self._read_fd in ready:
                    data = os.read(self._read_fd, _CHUNK)
                    if not data:
                        return  # every write end is closed
                    self._copy(data)
                    continue  # read what is there before honouring a wake-up
                if self._wake in ready:
                    self._drain()
                    return
        finally:
            os.close(self._read_fd)  # the wake eventfd is finish()'s to close
            self._writer.close()

    def _copy(self, data: bytes) -> None:
        """Append to the log; if the disk refuses, drop the bytes but keep draining.

        The module must never see its stdout fail because the node's disk is full
        (a Rust ``println!`` panics on a broken pipe): its output is lost, not its run.
        """
        try:
            self._writer.write(data)
        except OSError as error:
            if not self.bytes_dropped:
                log.warning("container log write failed; dropping output", error=str(error))
            self.bytes_dropped += len(data)
            return
        self.bytes_copied += len(data)

    def _drain(self) -> None:
        """Copy what the ended module left in the pipe, without waiting for more."""
        os.set_blocking(self._read_fd, False)
        while True:
            try:
                data = os.read(self._read_fd, _CHUNK)
            except BlockingIOError:
                return
            if not data:
                return
            self._copy(data)
