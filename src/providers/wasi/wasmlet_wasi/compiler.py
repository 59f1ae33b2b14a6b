"""Compiling a module in a confined worker, forked from the zygote.

A module is untrusted input to the compiler, and compiling a big one takes
seconds: done in the zygote itself it ran as root with no limits, and every
other start on the node waited behind it.  The zygote forks a worker instead
(:func:`compile_main`), goes on forking module hosts, and adopts the result
when the worker is done (:meth:`~wasmlet_wasi.engine.WasmEngine.adopt`).

The worker leaves the zygote as a host does, then confines itself before it
reads a byte of the module: CPU and address-space rlimits, nice 10, no new
privileges, nobody when the zygote is root, and Landlock with no rules at all
(no file access: everything it needs is already in memory).  It writes
``OK`` and the serialized module, or ``ER`` and the reason, to a pipe.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from kubelet_core import ContainerStartError
from wasmlet_wasi import sandbox
from wasmlet_wasi.engine import WasmEngine
from wasmlet_wasi.guest import leave_zygote

#: CPU seconds a compilation may take (a 40 MB module takes ~9 s here).
COMPILE_CPU_SECONDS = 300
#: Address space a compilation may add to what the worker maps at fork.
COMPILE_ADDRESS_SPACE = 4 << 30
_NOBODY = 65534


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def compile_main(engine: WasmEngine, data: bytes, out_fd: int, close: Sequence[int]) -> NoReturn:
    """The forked worker's whole life (never returns)."""
    try:
        leave_zygote(close)
        mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        sandbox.apply_limits(
            sandbox.Limits(
                open_files=64,
                address_space=mapped + COMPILE_ADDRESS_SPACE,
                cpu_seconds=COMPILE_CPU_SECONDS,
            )
        )
        os.setpriority(os.PRIO_PROCESS, 0, 10)
        sandbox.forbid_privileges()
        if os.geteuid() == 0:
            sandbox.drop_to(_NOBODY, _NOBODY)
        sandbox.restrict_filesystem([])
        try:
            serialized = engine.compile_serialized(data)
        except ContainerStartError as exc:
            _write_all(out_fd, b"ER" + exc.message.encode()[:4000])
        else:
            _write_all(out_fd, b"OK" + serialized)
    except BaseException as exc:  # a bug here must still answer
        with contextlib.suppress(BaseException):
            _write_all(out_fd, b"ER" + f"the module compiler failed: {exc!r}".encode()[:4000])
    os._exit(0)
