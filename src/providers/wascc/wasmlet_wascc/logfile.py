"""Appending lines to a container's log file from any thread.

The core allocates one log file per container run and serves it for
``kubectl logs``; lines carry no timestamps on disk.  Actor log lines arrive
from the worker threads that run guest calls, and the provider's own notes
(the bound address, traps) from the event loop, so writes take a lock.  Each
line is one ``write`` of an unbuffered file, so a reader following the file
never sees half a line.
"""

from __future__ import annotations

import threading
from pathlib import Path


class ContainerLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("ab", buffering=0)

    def write(self, text: str) -> None:
        """Append ``text`` as one line (newlines inside it are kept)."""
        data = text.rstrip("\n").encode("utf-8", errors="replace") + b"\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(data)

    def note(self, text: str) -> None:
        """A line from wasmlet itself, prefixed so it stands apart from the actor's."""
        self.write(f"wasmlet: {text}")

    def close(self) -> None:
        with self._lock:
            self._file.close()
