"""Appending lines to a container's log file from any thread, rotated by size.

The core allocates one log file per container run and serves it for
``kubectl logs``; lines carry no timestamps on disk.  Actor log lines arrive
from the worker threads that run guest calls, and the provider's own notes
(the bound address, traps) from the event loop, so writes take a lock.  Each
line is one ``write`` (two when it straddles the rotation bound), so a
reader following the file never sees half a line it cannot complete.  The
core's :class:`~kubelet_core._containers.logs.LogWriter` rotates the file per
the node's ``LogPolicy``, so a chatty actor cannot fill the disk.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kubelet_core import LogPolicy
from kubelet_core.containers import LogWriter


class ContainerLog:
    def __init__(self, path: Path, policy: LogPolicy | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writer: LogWriter | None = LogWriter(path, policy)

    def write(self, text: str) -> None:
        """Append ``text`` as one line (newlines inside it are kept)."""
        data = text.rstrip("\n").encode("utf-8", errors="replace") + b"\n"
        with self._lock:
            if self._writer is not None:
                self._writer.write(data)

    def note(self, text: str) -> None:
        """A line from wasmlet itself, prefixed so it stands apart from the actor's."""
        self.write(f"wasmlet: {text}")

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
