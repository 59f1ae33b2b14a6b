"""Filling the forker's allocator holes, so what a host allocates lands on pages of its own.

A module host (:mod:`wasmlet_wasi.guest`) allocates as it sets up: Python
objects (CPython's small-object allocator) and, through wasmtime, C memory
(glibc's ``malloc``).  Both allocators first reuse free blocks inside memory
already in use -- holes left by what the zygote freed while importing and
loading -- and those lie on pages shared with every other host: each block
reused copies its whole page.  Taking every such hole in the forker once,
before it forks any host, sends a host's allocations to memory nothing else
uses (new pools, the top of the heap), where they pack onto as few pages as
they need.  Measured: ~340 KiB less private memory per host.

The holes stay taken for the forker's life (a few hundred KiB, counted once,
never touched again).  Both steps are best-effort: an allocator that does not
report its state (``PYTHONMALLOC=malloc``, another libc) is left as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile

#: What fills the holes, kept alive for the forker's life.
_BALLAST: list[object] = []
#: malloc() calls a drain makes at most (a heap has far fewer holes).
_MAX_MALLOCS = 1 << 21
_STATS_ROW = re.compile(r"\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _free_blocks() -> dict[int, int]:
    """Free blocks in the small-object allocator's used pools, by block size."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)  # sys._debugmallocstats writes to the C stderr
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    found: dict[int, int] = {}
    for line in text.splitlines():
        row = _STATS_ROW.match(line)
        if row:
            found[int(row[2])] = int(row[3])
    return found


def fill_object_pools() -> None:
    """Take every free block of CPython's used pools (objects of that block size)."""
    for _ in range(2):  # the first round's own list growth leaves a few
        for size, count in _free_blocks().items():
            if size == 16:
                _BALLAST.extend(object() for _ in range(count))  # 16 bytes
            elif size == 32:
                _BALLAST.extend((1 << 20) + n for n in range(count))  # 28 bytes
            elif size > 32:
                _BALLAST.extend(bytes(size - 33) for _ in range(count))  # 33 + n bytes


def drain_malloc() -> None:
    """Take every free chunk of glibc's main heap, until malloc returns its top."""
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        return
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.sbrk.restype = ctypes.c_void_p
    libc.sbrk.argtypes = [ctypes.c_ssize_t]
    # Per-size caches first (tcache and fastbins hand a chunk only to its own size),
    # then one large request, which merges the fastbins, then small chunks until
    # they come from the top chunk: every free chunk below it is taken.
    for size in range(8, 1040, 16):
        for _ in range(16):
            libc.malloc(size)
    libc.malloc(4096)
    top = (libc.sbrk(0) or 0) - libc.mallinfo2().keepcost
    for _ in range(_MAX_MALLOCS):
        address = libc.malloc(24)
        if address is None or address >= top:
            break


def fill_holes() -> None:
    """Both, objects first (their pools' lists grow through malloc)."""
    with contextlib.suppress(Exception):
        fill_object_pools()
    with contextlib.suppress(Exception):
        drain_malloc()
