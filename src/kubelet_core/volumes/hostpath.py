"""``hostPath`` volumes: only under the node's allow-list, with the ``type`` checks kubelet does.

A hostPath gives a pod the host's files, so the node refuses it unless the
path (symlinks resolved) is inside one of ``allowed_host_paths``
(``NodeSettings.allowed_host_paths``, empty by default: no hostPath at all).
``type`` is honoured as kubelet does: ``DirectoryOrCreate`` makes the
directory (0755), ``FileOrCreate`` an empty file (0644, parent must exist),
``Directory`` / ``File`` / ``Socket`` / ``CharDevice`` / ``BlockDevice``
must already be one; an empty type checks nothing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from kubelet_core.provider.base import KubeObject


class HostPathError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def allowed(path: Path, allow_list: Sequence[str]) -> bool:
    real = Path(os.path.realpath(path))
    for entry in allow_list:
        root = Path(os.path.realpath(entry))
        if real == root or root in real.parents:
            return True
    return False


_CHECKS = {
    "Directory": (stat.S_ISDIR, "directory"),
    "File": (stat.S_ISREG, "file"),
    "Socket": (stat.S_ISSOCK, "socket"),
    "CharDevice": (stat.S_ISCHR, "character device"),
    "BlockDevice": (stat.S_ISBLK, "block device"),
}


def prepare_host_path(source: KubeObject, allow_list: Sequence[str]) -> Path:
    """The checked host path of a ``hostPath`` source; HostPathError if refused."""
    raw = str(source.get("path") or "")
    if not raw or not os.path.isabs(raw):
        raise HostPathError(f"hostPath path {raw!r} must be an absolute path")
    path = Path(raw)
    if not allowed(path, allow_list):
        shown = ", ".join(allow_list) or "none"
        raise HostPathError(
            f"hostPath {raw} is not allowed on this node (allowed_host_paths: {shown})"
        )
    kind = str(source.get("type") or "")
    if kind == "DirectoryOrCreate":
        if not path.exists():
            path.mkdir(mode=0o755, parents=True)
        kind = "Directory"
    elif kind == "FileOrCreate":
        if not path.exists():
            if not path.parent.is_dir():
                raise HostPathError(f"hostPath type check failed: {raw}: parent is not a directory")
            path.touch(mode=0o644)
        kind = "File"
    if kind in _CHECKS:
        check, what = _CHECKS[kind]
        try:
            mode = path.stat().st_mode
        except OSError:
            raise HostPathError(f"hostPath type check failed: {raw} is not a {what}") from None
        if not check(mode):
            raise HostPathError(f"hostPath type check failed: {raw} is not a {what}")
    elif kind:
        raise HostPathError(f"hostPath type {kind!r} is not supported")
    return path
