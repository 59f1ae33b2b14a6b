"""``hostPath`` volumes: only under the node's allow-list, with the ``type`` checks kubelet does.

A hostPath gives a pod the host's files, so the node refuses it unless the
path is below one of ``allowed_host_paths`` (``NodeConfig.host_paths.allowed``,
empty by default: no hostPath at all) *and resolves beneath it*: the path is
opened relative to a file descriptor of the allowed directory with
:func:`~kubelet_core._volumes.safepath.open_beneath`, so a symlink below the
allowed directory that leads out of it (planted by a pod that can write
there, or by anyone else) is refused, and there is no window between the
check and the use of a path.  Links that stay inside are followed.

``type`` is honoured as kubelet does: ``DirectoryOrCreate`` makes the
missing directories (0755, each beneath the allowed directory),
``FileOrCreate`` an empty file (0644, parent must exist; created with
``O_EXCL`` in the parent's fd, never through a link), ``Directory`` / ``File``
/ ``Socket`` / ``CharDevice`` / ``BlockDevice`` must already be one (checked
with ``fstat`` on the opened fd); an empty type checks nothing but that the
path resolves beneath the allowed directory if it exists.

:func:`check_host_path` returns the resolved path and the allowed
directory it is under; the mount carries both
(:attr:`~kubelet_core._containers.runtime.VolumeMount.root`) so the runtime
re-opens the path beneath that directory when the container starts.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from kubelet_core._provider.base import KubeObject
from kubelet_core._volumes.safepath import (
    PathEscapeError,
    fd_path,
    mkdirs_beneath,
    open_beneath,
    relative_parts,
)


class HostPathError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class HostPath:
    """A checked hostPath: the real path of what it names, and the allowed root it is under."""

    path: Path
    root: Path


def allowed_roots(path: Path, allow_list: Sequence[str]) -> list[Path]:
    """The allow-list entries ``path`` is lexically below, most specific first."""
    roots = []
    for entry in allow_list:
        if not entry or not os.path.isabs(entry):
            continue
        root = Path(os.path.normpath(entry))
        try:
            relative_parts(root, path)
        except PathEscapeError:
            continue
        roots.append(root)
    return sorted(roots, key=lambda root: len(root.parts), reverse=True)


def allowed(path: Path, allow_list: Sequence[str]) -> bool:
    """Whether ``path`` resolves beneath an allowed directory (a missing path: lexically)."""
    for root in allowed_roots(path, allow_list):
        try:
            fd = open_beneath(root, path, flags=os.O_PATH)
        except FileNotFoundError:
            return True
        except OSError:
            continue
        os.close(fd)
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
    return check_host_path(source, allow_list).path


def check_host_path(source: KubeObject, allow_list: Sequence[str]) -> HostPath:
    """The checked host path of a ``hostPath`` source and its allowed root; HostPathError."""
    raw = str(source.get("path") or "")
    if not raw or not os.path.isabs(raw) or "\0" in raw:
        raise HostPathError(f"hostPath path {raw!r} must be an absolute path")
    path = Path(raw)
    kind = str(source.get("type") or "")
    if kind and kind not in _CHECKS and kind not in ("DirectoryOrCreate", "FileOrCreate"):
        raise HostPathError(f"hostPath type {kind!r} is not supported")
    escaped: PathEscapeError | None = None
    for root in allowed_roots(path, allow_list):
        try:
            return _prepare_beneath(root, path, raw, kind)
        except PathEscapeError as exc:
            escaped = escaped or exc
    shown = ", ".join(allow_list) or "none"
    if escaped is not None:
        raise HostPathError(
            f"hostPath {raw} is not allowed on this node: it resolves outside "
            f"{escaped.root} ({escaped.why}; allowed_host_paths: {shown})"
        )
    raise HostPathError(f"hostPath {raw} is not allowed on this node (allowed_host_paths: {shown})")


def _prepare_beneath(root: Path, path: Path, raw: str, kind: str) -> HostPath:
    """Create (per ``kind``), check and resolve ``path`` beneath ``root``."""
    parts = relative_parts(root, path)
    if kind == "DirectoryOrCreate":
        try:
            root.mkdir(mode=0o755, parents=True, exist_ok=True)  # the admin's directory
            mkdirs_beneath(root, "/".join(parts), mode=0o755)
        except PathEscapeError:
            raise
        except OSError as exc:
            raise HostPathError(
                f"hostPath {raw}: cannot create the directory: {exc.strerror}"
            ) from None
        kind = "Directory"
    elif kind == "FileOrCreate":
        _create_file(root, path, parts, raw)
        kind = "File"
    try:
        fd = open_beneath(root, path, flags=os.O_PATH)
    except PathEscapeError:
        raise
    except OSError as exc:
        if kind in _CHECKS:
            what = _CHECKS[kind][1]
            raise HostPathError(f"hostPath type check failed: {raw} is not a {what}") from None
        if exc.errno == errno.ENOENT:
            # No type: nothing is checked, as kubelet; the runtime reports a missing path.
            return HostPath(path, root)
        raise HostPathError(f"hostPath {raw}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        real = fd_path(fd)
    finally:
        os.close(fd)
    if kind in _CHECKS:
        check, what = _CHECKS[kind]
        if not check(mode):
            raise HostPathError(f"hostPath type check failed: {raw} is not a {what}")
    real_root = Path(os.path.realpath(root))
    if real != real_root and real_root not in real.parents:  # cannot happen: opened beneath
        raise PathEscapeError(path, root, f"resolves to {real}")
    return HostPath(Path(root, real.relative_to(real_root)), root)


def _create_file(root: Path, path: Path, parts: tuple[str, ...], raw: str) -> None:
    """An empty 0644 file at ``path`` unless something is there; the parent must exist."""
    if not parts:
        return  # the allowed directory itself: the type check refuses it
    parent = PurePosixPath(path).parent
    try:
        parent_fd = open_beneath(root, Path(parent))
    except PathEscapeError:
        raise
    except OSError:
        raise HostPathError(
            f"hostPath type check failed: {raw}: parent is not a directory"
        ) from None
    try:
        fd = os.open(
            parts[-1],
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=parent_fd,
        )
        os.close(fd)
    except FileExistsError:
        pass  # there already (perhaps a link): the type check resolves it beneath root
    except OSError as exc:
        raise HostPathError(f"hostPath {raw}: cannot create the file: {exc.strerror}") from None
    finally:
        os.close(parent_fd)
