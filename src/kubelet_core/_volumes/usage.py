"""Disk usage of a directory tree (``du``), for emptyDir ``sizeLimit`` eviction.

Kubelet measures emptyDir usage periodically and evicts the pod once a
volume is over its ``sizeLimit``; there is no quota to stop the writes
themselves.  Usage is the allocated size (``st_blocks * 512``, like ``du``),
hard links counted once, symlinks not followed, measured by the iterative
walk of :mod:`kubelet_core._volumes.trees` (a tree too deep to measure raises
``TreeTooDeep``: callers treat it as over the limit).  It runs in a worker
thread.
"""

from __future__ import annotations

from pathlib import Path

from kubelet_core._volumes.trees import TreeTooDeep, tree_usage

__all__ = ["TreeTooDeep", "disk_usage"]


def disk_usage(root: Path) -> int:
    """Bytes allocated under ``root`` (0 if it does not exist)."""
    return tree_usage(root)
