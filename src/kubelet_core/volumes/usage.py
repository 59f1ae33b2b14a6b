"""Disk usage of a directory tree (``du``), for emptyDir ``sizeLimit`` eviction.

Kubelet measures emptyDir usage periodically and evicts the pod once a
volume is over its ``sizeLimit``; there is no quota to stop the writes
themselves.  Usage is the allocated size (``st_blocks * 512``, like ``du``),
hard links counted once, symlinks not followed.  It runs in a worker thread.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def disk_usage(root: Path) -> int:
    """Bytes allocated under ``root`` (0 if it does not exist)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            total += max(st.st_blocks * 512, size)
    return total
