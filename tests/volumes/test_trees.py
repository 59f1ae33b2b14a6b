"""Walking and removing trees a pod wrote: any depth, no symlink followed, nothing raised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelet_core._volumes.trees import MAX_DEPTH, TreeTooDeep, remove_tree, tree_usage


def nest(root: Path, depth: int) -> None:
    """``depth`` nested directories under ``root`` (deeper than any path can name)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    with open(os.open("file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as out:
        out.write(b"x" * 4096)


def test_a_tree_deeper_than_the_recursion_limit_is_removed(tmp_path: Path) -> None:
    """The audit's tree: 1,500 levels made shutil.rmtree raise RecursionError."""
    deep = tmp_path / "vol"
    nest(deep, 3000)
    with pytest.raises(RecursionError):
        import shutil

        shutil.rmtree(deep)  # what the agent used to do (Python 3.11)
    remove_tree(deep)
    assert not deep.exists()


def test_measuring_a_too_deep_tree_fails_closed(tmp_path: Path) -> None:
    deep = tmp_path / "vol"
    nest(deep, MAX_DEPTH + 10)
    with pytest.raises(TreeTooDeep):
        tree_usage(deep)
    shallow = tmp_path / "ok"
    nest(shallow, MAX_DEPTH - 10)
    assert tree_usage(shallow) >= 4096


def test_usage_counts_like_du(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "a" / "b").mkdir(parents=True)
    (vol / "a" / "b" / "f").write_bytes(b"y" * 100_000)
    os.link(vol / "a" / "b" / "f", vol / "hardlink")  # counted once
    outside = tmp_path / "big"
    outside.write_bytes(b"z" * 1_000_000)
    (vol / "link").symlink_to(outside)  # not followed
    used = tree_usage(vol)
    assert 100_000 <= used < 200_000
    assert tree_usage(tmp_path / "missing") == 0


def test_removal_never_follows_a_symlink(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("mine")
    vol = tmp_path / "vol"
    (vol / "sub").mkdir(parents=True)
    (vol / "sub" / "out").symlink_to(keep)
    (vol / "top").symlink_to(keep)
    remove_tree(vol)
    assert not vol.exists()
    assert (keep / "precious").read_text() == "mine"
    link = tmp_path / "link"
    link.symlink_to(keep)
    remove_tree(link)  # the root itself a link: the link goes, never its target
    assert not link.is_symlink() and (keep / "precious").exists()


def test_wide_trees_hold_few_descriptors(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    for i in range(2000):
        (vol / str(i)).mkdir()
    before = len(os.listdir("/proc/self/fd"))
    tree_usage(vol)
    remove_tree(vol)
    assert not vol.exists()
    assert len(os.listdir("/proc/self/fd")) <= before + 2
