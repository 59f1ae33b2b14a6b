"""Walking and removing directory trees a pod wrote: iteratively, by descriptor.

A pod controls the shape of its writable volumes.  ``os.walk`` and
``shutil.rmtree`` recurse (on Python 3.11 both do), so a tree nested deeper
than the interpreter's recursion limit -- 1,500 directories made by a module
in a loop -- raised ``RecursionError``: sizeLimit eviction stopped, a
deleted pod's volume stayed, and the next agent failed to start.  Here the
walk keeps an explicit stack, opens every entry relative to its parent's
descriptor with ``O_NOFOLLOW`` (no symlink is ever followed), and skips what
it cannot open or remove instead of raising.

Descriptors are bounded too: the walk holds one per level, and
:data:`MAX_DEPTH` levels at most.  Measuring a deeper tree fails closed
(:class:`TreeTooDeep`: the volume is over any limit); removing one moves the
too-deep subtree up to the top and carries on, so any depth is removed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

#: Directory levels open at once (one descriptor each).
MAX_DEPTH = 256
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeTooDeep(OSError):
    """A tree nested deeper than :data:`MAX_DEPTH` directories."""


def _open_dir(name: str | Path, dir_fd: int | None = None) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None


def tree_usage(root: Path) -> int:
    """Bytes allocated under ``root``, like ``du`` (hard links once, symlinks not followed).

    0 if ``root`` is missing; :class:`TreeTooDeep` past :data:`MAX_DEPTH` levels.
    """
    top = _open_dir(root)
    if top is None:
        return 0
    seen: set[tuple[int, int]] = set()
    total = 0
    levels: list[tuple[int, Iterator[os.DirEntry[str]]]] = []
    try:
        levels.append((top, iter(os.scandir(top))))
        while levels:
            fd, entries = levels[-1]
            entry = next(entries, None)
            if entry is None:
                levels.pop()
                os.close(fd)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            total += max(st.st_blocks * 512, size)
            if not stat.S_ISDIR(st.st_mode):
                continue
            if len(levels) >= MAX_DEPTH:
                raise TreeTooDeep(f"{root} nests deeper than {MAX_DEPTH} directories")
            child = _open_dir(entry.name, fd)
            if child is not None:
                try:
                    levels.append((child, iter(os.scandir(child))))
                except OSError:
                    os.close(child)
    finally:
        for fd, _entries in levels:
            os.close(fd)
    return total


def remove_tree(root: Path) -> None:
    """Remove ``root`` and everything below it, however deep; errors are skipped."""
    parent = _open_dir(root.parent)
    if parent is None:
        return
    try:
        top = _open_dir(root.name, parent)
        if top is None:
            with contextlib.suppress(OSError):
                os.unlink(root.name, dir_fd=parent)  # a file or a link: never followed
            return
        _empty(top)
        with contextlib.suppress(OSError):
            os.rmdir(root.name, dir_fd=parent)
    finally:
        os.close(parent)


def _empty(top: int) -> None:
    """Remove everything in the directory open as ``top`` (which it closes)."""
    moved = itertools.count()
    stuck: set[tuple[int, int]] = set()  # directories that would not go: never revisit
    stack = [top]  # the open directories from the top down to the one being emptied
    names: list[str] = []  # names[i]: the name of stack[i + 1] in stack[i]
    while stack:
        fd = stack[-1]
        child: tuple[int, str] | None = None
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if not stat.S_ISDIR(st.st_mode):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.name, dir_fd=fd)
                        continue
                    if (st.st_dev, st.st_ino) in stuck:
                        continue
                    if len(stack) >= MAX_DEPTH:  # too deep to hold: move it to the top
                        with contextlib.suppress(OSError):
                            os.rename(
                                entry.name,
                                f".removing-{next(moved)}",
                                src_dir_fd=fd,
                                dst_dir_fd=top,
                            )
                        continue
                    opened = _open_dir(entry.name, fd)
                    if opened is None:
                        stuck.add((st.st_dev, st.st_ino))
                        continue
                    child = (opened, entry.name)
                    break
        except OSError:
            pass
        if child is not None:
            stack.append(child[0])
            names.append(child[1])
            continue
        st = os.fstat(fd)
        stack.pop()
        os.close(fd)
        if names:  # ``fd`` is as empty as it gets: remove it from its parent
            try:
                os.rmdir(names.pop(), dir_fd=stack[-1])
            except OSError:
                stuck.add((st.st_dev, st.st_ino))
