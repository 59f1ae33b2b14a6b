"""Resolving paths beneath a trusted directory, so that nothing resolves outside it.

A pod controls the content of its volumes: an init container can leave a
symlink ``etc -> ../../../../etc`` in an emptyDir, or swap a directory for a
symlink at any moment.  A host path built from a pod's ``subPath`` (or found
below an allowed ``hostPath``) must therefore never be opened by joining
strings and following whatever is there.  Everything here opens the path
*relative to a file descriptor of the trusted root* and lets the kernel
refuse any step that leaves it:

* :func:`open_beneath` -- ``openat2(2)`` with ``RESOLVE_BENEATH`` (Linux 5.6+,
  syscall 437 on every architecture, called through ``libc.syscall``):
  ``..`` and symlinks are resolved as usual as long as they stay beneath the
  root (as kubelet follows a subPath's links inside the volume); an absolute
  symlink or one climbing above the root fails with :class:`PathEscapeError`.
  The check and the use are one system call, so there is no window to swap
  a component.  Without ``openat2`` (ENOSYS: an old kernel; ENOSYS or EPERM
  from a seccomp filter), :func:`open_beneath_nofollow` walks the components one
  ``openat(O_NOFOLLOW)`` at a time from the root's fd and refuses *every*
  symlink -- stricter, equally race-free.
* :func:`mkdirs_beneath` creates the missing components of a subPath with
  ``mkdirat`` on the fd of the resolved parent (``mkdir`` never follows a
  symlink in its last component), as kubelet's ``SafeMakeDir``.
* :func:`resolve_beneath` is the real path of what :func:`open_beneath`
  opened (``/proc/self/fd``), for callers that need a :class:`Path`; a
  runtime using that path later re-opens it with ``open_beneath(root, path)``
  so a link planted in between cannot redirect it.

The root itself is trusted (the agent's own volume directory, or an entry of
``allowed_host_paths`` set by the node's admin) and opened normally.  The
target must be the root or lexically below it, without ``..`` components.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

#: ``openat2(2)``: the same number on every Linux architecture (the unified syscall table).
SYS_OPENAT2 = 437
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08

#: ``openat2`` fails with EAGAIN when a rename raced with resolving ``..``; retried this often.
_EAGAIN_RETRIES = 32
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class PathEscapeError(OSError):
    """``target`` does not stay beneath ``root`` (a ``..``, or a symlink leading out)."""

    def __init__(self, target: Path | str, root: Path | str, why: str = "") -> None:
        detail = why or "a symbolic link leads out of it"
        super().__init__(errno.EXDEV, f"path {str(target)!r} escapes {str(root)!r}: {detail}")
        self.target = Path(target)
        self.root = Path(root)
        self.why = detail

    def __str__(self) -> str:
        return str(self.strerror)


class _OpenHow(ctypes.Structure):
    _fields_ = (  # struct open_how (include/uapi/linux/openat2.h)
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def _load_syscall() -> Callable[..., Any] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    found: Callable[..., Any] = function
    return found


_syscall = _load_syscall()
#: False once openat2 answered ENOSYS: every later call goes straight to the fallback.
_openat2_works = _syscall is not None


def openat2(dir_fd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """The raw system call: a new fd, or OSError (``ENOSYS`` where the kernel has none)."""
    if _syscall is None:
        raise OSError(errno.ENOSYS, "openat2 is not available (no libc syscall())")
    how = _OpenHow(flags, mode, resolve)
    encoded = os.fsencode(path)
    attempts = 0
    while True:
        fd = int(
            _syscall(
                ctypes.c_long(SYS_OPENAT2),
                ctypes.c_long(dir_fd),
                ctypes.c_char_p(encoded),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd >= 0:
            return fd
        code = ctypes.get_errno()
        if code == errno.EINTR or (code == errno.EAGAIN and attempts < _EAGAIN_RETRIES):
            attempts += 1
            continue
        raise OSError(code, os.strerror(code), path)


# -- the lexical part ------------------------------------------------------------------------


def relative_parts(root: Path, target: Path | str) -> tuple[str, ...]:
    """The components of ``target`` below ``root``; PathEscapeError unless lexically beneath.

    A relative ``target`` is taken relative to ``root``.  ``.`` and repeated
    slashes are dropped; any ``..`` is refused (it could climb through a
    symlink, and no caller needs it).
    """
    pure = PurePosixPath(target)
    base = PurePosixPath(root)
    if pure.is_absolute():
        if pure.parts[: len(base.parts)] != base.parts:
            raise PathEscapeError(target, root, "not below it")
        rest = pure.parts[len(base.parts) :]
    else:
        rest = pure.parts
    if ".." in rest:
        raise PathEscapeError(target, root, "'..' is not allowed")
    if any("\0" in part for part in rest):
        raise PathEscapeError(target, root, "NUL in path")
    return tuple(rest)


@contextlib.contextmanager
def _fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _open_root(root: Path) -> int:
    return os.open(root, _DIR_FLAGS)


# -- opening ---------------------------------------------------------------------------------


def open_beneath(
    root: Path, target: Path, *, flags: int = os.O_PATH | os.O_DIRECTORY, mode: int = 0
) -> int:
    """Open ``target`` beneath ``root``; a new O_CLOEXEC fd the caller closes.

    Symlinks that stay beneath ``root`` are followed; ``..``, an absolute
    symlink or one leading out raise :class:`PathEscapeError`; a missing
    component raises FileNotFoundError, a symlink loop OSError(ELOOP).
    ``mode`` is for ``O_CREAT``.
    """
    global _openat2_works
    parts = relative_parts(root, target)
    with _fd(_open_root(root)) as root_fd:
        if _openat2_works:
            try:
                return _openat2_beneath(root_fd, root, target, parts, flags, mode)
            except OSError as exc:
                if isinstance(exc, PathEscapeError) or not _blocked(exc.errno or 0):
                    raise
                _openat2_works = False
        return _nofollow_beneath(root_fd, root, target, parts, flags, mode)


def _blocked(code: int) -> bool:
    """Whether openat2 itself is unavailable: ENOSYS, or EPERM from a seccomp filter.

    (Docker's older default profile answers EPERM for syscalls it does not
    know; a genuine EPERM on a path is told apart by opening ``/`` instead.)
    """
    if code == errno.ENOSYS:
        return True
    if code != errno.EPERM:
        return False
    try:
        os.close(openat2(-100, "/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))  # AT_FDCWD
    except OSError as exc:
        return exc.errno in (errno.ENOSYS, errno.EPERM)
    return False


def _openat2_beneath(
    root_fd: int, root: Path, target: Path, parts: tuple[str, ...], flags: int, mode: int
) -> int:
    relative = "/".join(parts) or "."
    try:
        return openat2(
            root_fd,
            relative,
            flags | os.O_CLOEXEC,
            mode if flags & os.O_CREAT else 0,
            RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        )
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise PathEscapeError(target, root) from None
        exc.filename = str(target)
        raise


def open_beneath_nofollow(
    root: Path, target: Path, *, flags: int = os.O_PATH | os.O_DIRECTORY, mode: int = 0
) -> int:
    """:func:`open_beneath` without ``openat2``: one component at a time, no symlink at all.

    The fallback for kernels before 5.6; public so that tests exercise it on
    any kernel.
    """
    parts = relative_parts(root, target)
    with _fd(_open_root(root)) as root_fd:
        return _nofollow_beneath(root_fd, root, target, parts, flags, mode)


def _refuse_link(root: Path, target: Path) -> PathEscapeError:
    return PathEscapeError(
        target, root, "a symbolic link on the way (not followed without openat2)"
    )


def _nofollow_beneath(
    root_fd: int, root: Path, target: Path, parts: tuple[str, ...], flags: int, mode: int
) -> int:
    if not parts:
        return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=root_fd)
    parent = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            try:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                raise FileNotFoundError(
                    errno.ENOENT, os.strerror(errno.ENOENT), str(target)
                ) from None
            kind = os.fstat(fd).st_mode
            os.close(parent)
            parent = fd
            if stat.S_ISLNK(kind):
                raise _refuse_link(root, target)
            if not stat.S_ISDIR(kind):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target))
        last = parts[-1]
        try:
            fd = os.open(last, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(last, parent):
                raise _refuse_link(root, target) from None
            exc.filename = str(target)
            raise
        if flags & os.O_PATH and stat.S_ISLNK(os.fstat(fd).st_mode):
            os.close(fd)  # O_PATH|O_NOFOLLOW opened the link itself
            raise _refuse_link(root, target)
        return fd
    finally:
        os.close(parent)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


# -- creating and resolving ------------------------------------------------------------------


def mkdirs_beneath(root: Path, relative: str, *, mode: int = 0o755) -> None:
    """Create the missing directories of ``relative`` beneath ``root``, none followed out.

    Each existing component is opened beneath ``root`` (links inside are
    followed, as :func:`open_beneath`); each missing one is made with
    ``mkdir(name, dir_fd=parent)``, which creates it in the directory the
    parent fd holds whatever is swapped in meanwhile, and given ``mode``
    whatever the umask (as kubelet's ``SafeMakeDir``).
    """
    parts = relative_parts(root, relative)
    parent = open_beneath(root, root)
    try:
        for index, name in enumerate(parts):
            here = Path(root, *parts[: index + 1])
            try:
                fd = open_beneath(root, here)
            except FileNotFoundError:
                try:
                    os.mkdir(name, mode, dir_fd=parent)
                except FileExistsError:
                    pass  # made meanwhile (or a dangling link: the open below refuses it)
                else:
                    _chmod_made(name, parent, mode)
                fd = open_beneath(root, here)
            os.close(parent)
            parent = fd
    finally:
        os.close(parent)


def _chmod_made(name: str, parent: int, mode: int) -> None:
    """``mode`` on a directory just made, not narrowed by the umask (as kubelet's SafeMakeDir).

    Opened without following a link: if the pod swapped one in, nothing is changed.
    """
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def fd_path(fd: int) -> Path:
    """The path the kernel has for an open fd."""
    return Path(os.readlink(f"/proc/self/fd/{fd}"))


def resolve_beneath(root: Path, target: Path) -> Path:
    """The real path of ``target`` opened beneath ``root``, checked to be under root's real path.

    ``target`` may be a directory or any other file.  Raises like :func:`open_beneath`.
    """
    with _fd(open_beneath(root, target, flags=os.O_PATH)) as fd, _fd(_open_root(root)) as rfd:
        real, real_root = fd_path(fd), fd_path(rfd)
    if real != real_root and real_root not in real.parents:
        raise PathEscapeError(target, root, f"resolves to {real}")
    return real


def resolve_within(root: Path, target: Path) -> Path:
    """:func:`resolve_beneath`, expressed below ``root`` as given (root's own links kept).

    ``root / (real path of target relative to root's real path)``: no link
    below ``root`` is left in it, and ``open_beneath(root, result)`` works.
    """
    with _fd(open_beneath(root, target, flags=os.O_PATH)) as fd, _fd(_open_root(root)) as rfd:
        real, real_root = fd_path(fd), fd_path(rfd)
    if real != real_root and real_root not in real.parents:
        raise PathEscapeError(target, root, f"resolves to {real}")
    return Path(root, real.relative_to(real_root))
