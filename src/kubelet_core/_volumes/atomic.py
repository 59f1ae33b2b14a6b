"""Atomic volume content: kubelet's ``..data`` symlink swap.

A ConfigMap, Secret, downward-API or projected volume is a directory the
container reads while the agent may be rewriting it.  To never show a
half-written set of files, each version is written into a fresh hidden
directory ``..<timestamp>``; then a symlink ``..data_tmp`` pointing at it is
renamed over ``..data`` (``rename(2)`` replaces atomically), and every
user-visible top-level name is a relative symlink ``name -> ..data/name``.
Readers resolve names at open time, so a running container -- including a
WASI module whose preopen is the volume directory -- sees the old or the new
version, never a mix.  Symlinks stay inside the directory, which WASI allows.

The swap happens only when the content (paths, bytes, modes) changed, so a
periodic or event-driven re-sync of an unchanged object touches nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

DATA = "..data"
_TMP_LINK = "..data_tmp"


@dataclasses.dataclass(frozen=True)
class FileContent:
    """One file of a volume: its bytes and permission bits."""

    data: bytes
    mode: int = 0o644


Payload = Mapping[str, FileContent]


class PayloadError(ValueError):
    """A payload path that would escape the volume or clash with the writer's names."""


def check_path(path: str) -> PurePosixPath:
    """Validate an item ``path`` as the API server does (relative, no ``..``, not ``..x``)."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must be relative and may not contain '..'")
    return pure


def _current(target: Path) -> Path | None:
    link = target / DATA
    try:
        return target / os.readlink(link)
    except OSError:
        return None


def _same(directory: Path, payload: Payload) -> bool:
    seen: set[str] = set()
    for root, _dirs, files in os.walk(directory):
        for name in files:
            full = Path(root) / name
            seen.add(full.relative_to(directory).as_posix())
    if seen != set(payload):
        return False
    for path, content in payload.items():
        full = directory / path
        try:
            if full.stat().st_mode & 0o7777 != content.mode or full.read_bytes() != content.data:
                return False
        except OSError:
            return False
    return True


def write_payload(
    target: Path, payload: Payload, *, dir_mode: int = 0o755, group: int | None = None
) -> bool:
    """Make ``target`` show exactly ``payload``; True if anything changed.

    ``group``: the files and directories belong to that group (a pod's fsGroup).
    """
    for path in payload:
        check_path(path)
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, dir_mode)
    old = _current(target)
    if old is not None and old.is_dir() and _same(old, payload):
        return False
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    new = target / stamp
    suffix = 0
    while new.exists():
        suffix += 1
        new = target / f"{stamp}_{suffix}"
    new.mkdir(mode=dir_mode)
    for path, content in payload.items():
        full = new / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(content.data)
        os.chmod(full, content.mode)
    if group is not None:
        for directory, _dirs, files in os.walk(new):
            os.chown(directory, -1, group)
            for name in files:
                os.chown(os.path.join(directory, name), -1, group)
    tmp = target / _TMP_LINK
    tmp.unlink(missing_ok=True)
    os.symlink(new.name, tmp)
    os.replace(tmp, target / DATA)
    tops = {PurePosixPath(path).parts[0] for path in payload}
    for top in tops:
        link = target / top
        if link.is_symlink() and os.readlink(link) == f"{DATA}/{top}":
            continue
        _remove(link)
        os.symlink(f"{DATA}/{top}", link)
    for entry in target.iterdir():
        name = entry.name
        if name in tops or name == DATA:
            continue
        if name.startswith("..") and entry == new:
            continue
        if not name.startswith("..") and entry.is_symlink():
            entry.unlink()  # a key that disappeared
        elif name.startswith("..") and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)  # an old version
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
