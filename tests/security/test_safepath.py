"""Resolving beneath a trusted root (:mod:`kubelet_core._volumes.safepath`), as attacks.

Each test is something a pod can do to the files in its volumes: leave a
``..``, an absolute or a relative symlink leading out, a loop, or swap a
directory for a symlink between the node's check and its use.  Every attack
runs against both implementations: ``openat2(RESOLVE_BENEATH)`` and the
component-by-component ``O_NOFOLLOW`` fallback for kernels without it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kubelet_core._volumes.safepath import (
    PathEscapeError,
    fd_path,
    mkdirs_beneath,
    open_beneath,
    open_beneath_nofollow,
    resolve_beneath,
    resolve_within,
)

Opener = Callable[..., int]
OPENERS = pytest.mark.parametrize(
    "opener", [open_beneath, open_beneath_nofollow], ids=["openat2", "nofollow"]
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``root/`` (the volume) next to ``outside/secret`` (a host file)."""
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    return root


def opened(opener: Opener, root: Path, target: Path, **kwargs: int) -> Path:
    fd = opener(root, target, **kwargs)
    try:
        assert os.get_inheritable(fd) is False  # O_CLOEXEC
        return fd_path(fd)
    finally:
        os.close(fd)


@OPENERS
def test_plain_directories_and_files_open(opener: Opener, tree: Path) -> None:
    assert opened(opener, tree, tree) == tree
    assert opened(opener, tree, tree / "a" / "b") == tree / "a" / "b"
    assert opened(opener, tree, tree / "a/./b//") == tree / "a" / "b"
    assert opened(opener, tree, tree / "a/b/f", flags=os.O_RDONLY) == tree / "a" / "b" / "f"
    with pytest.raises(FileNotFoundError):
        opener(tree, tree / "a" / "missing")
    with pytest.raises(NotADirectoryError):
        opener(tree, tree / "a" / "b" / "f")  # O_DIRECTORY by default


@OPENERS
@pytest.mark.parametrize("target", ["a/../../outside", "..", "a/b/../../.."])
def test_dot_dot_is_refused(opener: Opener, tree: Path, target: str) -> None:
    with pytest.raises(PathEscapeError, match=r"'\.\.' is not allowed"):
        opener(tree, tree / target)


@OPENERS
def test_a_target_not_below_the_root_is_refused(opener: Opener, tree: Path) -> None:
    with pytest.raises(PathEscapeError, match="not below it"):
        opener(tree, tree.parent / "outside")
    with pytest.raises(PathEscapeError, match="not below it"):
        opener(tree, tree.parent / "rootless")  # a sibling sharing the prefix as a string


@OPENERS
def test_an_absolute_symlink_is_refused(opener: Opener, tree: Path) -> None:
    (tree / "etc").symlink_to("/etc")
    with pytest.raises(PathEscapeError) as caught:
        opener(tree, tree / "etc")
    assert caught.value.errno == errno.EXDEV
    assert str(tree) in str(caught.value) and "etc" in str(caught.value)
    with pytest.raises(PathEscapeError):
        opener(tree, tree / "etc" / "passwd", flags=os.O_RDONLY)


@OPENERS
def test_a_relative_symlink_climbing_out_is_refused(opener: Opener, tree: Path) -> None:
    """The audit's attack: ``symlink("../../../../../../etc", "/data/etc")`` in an emptyDir."""
    (tree / "a" / "etc").symlink_to("../" * 40 + "etc")
    (tree / "a" / "b" / "loot").symlink_to("../../../outside")
    for target in ("a/etc", "a/b/loot", "a/b/loot/secret"):
        with pytest.raises(PathEscapeError):
            opener(tree, tree / target, flags=os.O_PATH)
    with pytest.raises(PathEscapeError):
        opener(tree, tree / "a" / "b" / "loot" / "secret", flags=os.O_RDONLY)


@OPENERS
def test_a_symlink_loop_is_refused(opener: Opener, tree: Path) -> None:
    (tree / "l1").symlink_to("l2")
    (tree / "l2").symlink_to("l1")
    with pytest.raises(OSError) as caught:
        opener(tree, tree / "l1")
    assert caught.value.errno in (errno.ELOOP, errno.EXDEV)


def test_symlinks_staying_inside_are_followed(tree: Path) -> None:
    """As kubelet: a subPath through a link that stays in the volume is the link's target."""
    (tree / "alias").symlink_to("a/b")
    (tree / "a" / "up").symlink_to("../a/b")  # climbs, but not above the root
    assert opened(open_beneath, tree, tree / "alias") == tree / "a" / "b"
    assert opened(open_beneath, tree, tree / "a" / "up") == tree / "a" / "b"
    assert resolve_beneath(tree, tree / "alias" / "f") == tree / "a" / "b" / "f"


def test_the_fallback_refuses_every_symlink(tree: Path) -> None:
    """Without openat2 a link cannot be followed safely one component at a time: none is."""
    (tree / "alias").symlink_to("a/b")
    for target, flags in (("alias", os.O_PATH), ("alias/f", os.O_RDONLY), ("alias", os.O_PATH)):
        with pytest.raises(PathEscapeError, match="symbolic link"):
            open_beneath_nofollow(tree, tree / target, flags=flags)


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM])
def test_open_beneath_uses_the_fallback_when_the_kernel_has_no_openat2(
    tree: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """ENOSYS (a kernel before 5.6) or a seccomp filter's EPERM: the O_NOFOLLOW walk."""
    from kubelet_core._volumes import safepath

    def no_openat2(*args: object, **kwargs: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(safepath, "openat2", no_openat2)
    monkeypatch.setattr(safepath, "_openat2_works", True)
    (tree / "etc").symlink_to("../" * 40 + "etc")
    assert opened(open_beneath, tree, tree / "a" / "b") == tree / "a" / "b"
    with pytest.raises(PathEscapeError, match="symbolic link"):
        open_beneath(tree, tree / "etc")
    assert safepath._openat2_works is False


def test_a_genuine_eperm_is_not_mistaken_for_a_missing_openat2(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubelet_core._volumes import safepath

    real = safepath.openat2

    def refuses_one_path(dir_fd: int, path: str, *args: int) -> int:
        if path.endswith("guarded"):
            raise OSError(errno.EPERM, "Operation not permitted", path)
        return real(dir_fd, path, *args)

    monkeypatch.setattr(safepath, "openat2", refuses_one_path)
    monkeypatch.setattr(safepath, "_openat2_works", True)
    (tree / "guarded").mkdir()
    with pytest.raises(PermissionError):
        open_beneath(tree, tree / "guarded")
    assert safepath._openat2_works is True


@OPENERS
def test_a_directory_swapped_for_a_symlink_after_the_check(opener: Opener, tree: Path) -> None:
    """Check-then-use: the fd opened at check time still holds the checked directory.

    The pod swaps ``a/b`` for a link to the host after the node checked it.
    What was opened keeps pointing at the original directory (wherever it was
    moved), and a later re-open of the same path beneath the root is refused;
    only code that re-resolves the *path* without the root would follow the link.
    """
    fd = opener(tree, tree / "a" / "b")
    try:
        os.rename(tree / "a" / "b", tree / "a" / "moved")
        (tree / "a" / "b").symlink_to("../../outside")
        # The naive use follows the planted link to the host file:
        assert (tree / "a" / "b" / "secret").read_text() == "host secret"
        # The fd does not: it is the checked directory, now at a/moved.
        file_fd = os.open("f", os.O_RDONLY | os.O_CLOEXEC, dir_fd=fd)
        with os.fdopen(file_fd) as reader:
            assert reader.read() == "inside"
        with pytest.raises(FileNotFoundError):
            os.open("secret", os.O_RDONLY, dir_fd=fd)
        assert fd_path(fd) == tree / "a" / "moved"
        with pytest.raises(PathEscapeError):  # what a runtime does at start: refused
            opener(tree, tree / "a" / "b")
    finally:
        os.close(fd)


@OPENERS
def test_a_symlinked_parent_cannot_redirect_a_created_file(opener: Opener, tree: Path) -> None:
    (tree / "out").symlink_to("../outside")
    with pytest.raises(PathEscapeError):
        opener(tree, tree / "out" / "new", flags=os.O_WRONLY | os.O_CREAT, mode=0o644)
    assert not (tree.parent / "outside" / "new").exists()


def test_mkdirs_beneath_creates_missing_directories(tree: Path) -> None:
    (tree / "alias").symlink_to("a/b")
    mkdirs_beneath(tree, "alias/new/deeper", mode=0o750)
    made = tree / "a" / "b" / "new" / "deeper"
    for directory in (made, made.parent):  # the umask does not narrow them (as kubelet)
        assert directory.is_dir() and (directory.stat().st_mode & 0o7777) == 0o750
    mkdirs_beneath(tree, "wide/open", mode=0o777)
    assert (tree / "wide" / "open").stat().st_mode & 0o777 == 0o777
    assert (tree / "a" / "b").stat().st_mode & 0o777 == 0o777 & ~_umask()  # existing: untouched
    mkdirs_beneath(tree, "alias/new/deeper")  # already there: nothing to do
    mkdirs_beneath(tree, "")


def test_mkdirs_beneath_never_creates_outside(tree: Path) -> None:
    outside = tree.parent / "outside"
    (tree / "esc").symlink_to("../outside")
    (tree / "abs").symlink_to(str(outside))
    (tree / "dangling").symlink_to("../outside/made-by-pod")
    for relative in ("esc/new", "abs/new", "dangling", "dangling/new", "../outside/new"):
        with pytest.raises(OSError):
            mkdirs_beneath(tree, relative)
    assert sorted(os.listdir(outside)) == ["secret"]


def test_resolve_helpers_give_real_paths_below_the_root(tree: Path) -> None:
    (tree / "alias").symlink_to("a/b")
    assert resolve_beneath(tree, tree / "alias") == tree / "a" / "b"
    assert resolve_within(tree, tree / "alias") == tree / "a" / "b"
    link_root = tree.parent / "root-link"
    link_root.symlink_to(tree)  # the root itself may be reached through a trusted link
    assert resolve_beneath(link_root, link_root / "alias") == tree / "a" / "b"
    assert resolve_within(link_root, link_root / "alias") == link_root / "a" / "b"
    with pytest.raises(PathEscapeError):
        resolve_beneath(tree, tree / "a" / ".." / "..")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
