"""Check-then-use: every mount carries the root its host path must stay beneath.

The core resolves a subPath or hostPath when the container is prepared; the
runtime uses the path later.  A pod (or anyone who can write below an allowed
host path) can swap a component for a symlink in between, so each
:class:`VolumeMount` carries ``root`` and the runtime re-opens ``host_path``
with ``open_beneath(mount.root, mount.host_path)``: the swapped link is
refused there.  These drive :class:`PodVolumes` (what ``ContainerProvider``
uses) on real directories.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._containers.volumes import PodVolumes
from kubelet_core._provider.errors import ContainerConfigError
from kubelet_core._volumes.host import make_volume_host
from kubelet_core._volumes.hostpath import HostPathError, check_host_path
from kubelet_core._volumes.safepath import PathEscapeError, fd_path, open_beneath

POD_META = {"name": "p", "namespace": "default", "uid": "u1"}


@pytest.fixture
def host_dirs(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    (allowed / "data").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    return allowed, outside


@pytest.fixture
async def volumes(tmp_path: Path, host_dirs: tuple[Path, Path]) -> AsyncIterator[PodVolumes]:
    allowed, _ = host_dirs
    host = make_volume_host(
        None,
        node_name="n",
        node_ip="127.0.0.1",
        data_dir=tmp_path / "node",
        allowed_host_paths=[str(allowed)],
        shm=None,
    )
    pod = {
        "metadata": POD_META,
        "spec": {
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "host", "hostPath": {"path": str(allowed / "data"), "type": "Directory"}},
            ]
        },
    }
    pod_volumes = PodVolumes(tmp_path / "node" / "volumes", pod, host=host)
    assert await pod_volumes.setup() == {}
    yield pod_volumes
    pod_volumes.remove()


def container(*mounts: dict[str, Any]) -> dict[str, Any]:
    return {"name": "main", "volumeMounts": list(mounts)}


async def test_every_mount_names_its_root(
    volumes: PodVolumes, tmp_path: Path, host_dirs: tuple[Path, Path]
) -> None:
    allowed, _ = host_dirs
    mounts = volumes.mounts_for(
        container(
            {"name": "scratch", "mountPath": "/s"},
            {"name": "scratch", "mountPath": "/sub", "subPath": "made/on/demand"},
            {"name": "host", "mountPath": "/h"},
        ),
        {},
    )
    scratch = tmp_path / "node" / "volumes" / "default_p_u1" / "empty-dir" / "scratch"
    assert [(m.host_path, m.root) for m in mounts] == [
        (scratch, scratch),
        (scratch / "made" / "on" / "demand", scratch),
        (allowed / "data", allowed),  # hostPath: the allowed directory it is under
    ]
    assert (scratch / "made" / "on" / "demand").is_dir()


async def test_a_link_swapped_in_after_the_check_is_refused_at_start(
    volumes: PodVolumes, host_dirs: tuple[Path, Path]
) -> None:
    """The pod swaps the checked subPath for a link to the host before its runtime opens it."""
    _, outside = host_dirs
    (mount,) = volumes.mounts_for(
        container({"name": "scratch", "mountPath": "/x", "subPath": "work"}), {}
    )
    assert mount.root is not None
    fd = open_beneath(mount.root, mount.host_path)  # what a runtime does at start: fine now
    os.close(fd)
    os.rename(mount.host_path, mount.host_path.with_name("old"))
    mount.host_path.symlink_to("../" * 40 + str(outside).lstrip("/"))
    assert (mount.host_path / "secret").exists()  # a plain open would now reach the host
    with pytest.raises(PathEscapeError):
        open_beneath(mount.root, mount.host_path)
    with pytest.raises(ContainerConfigError, match="it resolves outside the volume"):
        volumes.mounts_for(container({"name": "scratch", "mountPath": "/x", "subPath": "work"}), {})


async def test_a_host_path_swapped_for_a_link_after_the_check_is_refused_at_start(
    volumes: PodVolumes, host_dirs: tuple[Path, Path]
) -> None:
    allowed, outside = host_dirs
    (mount,) = volumes.mounts_for(container({"name": "host", "mountPath": "/h"}), {})
    assert mount.root == allowed
    os.rename(allowed / "data", allowed / "data-old")
    (allowed / "data").symlink_to(outside)
    with pytest.raises(PathEscapeError):
        open_beneath(mount.root, mount.host_path)


async def test_sub_path_messages_name_no_host_path(
    volumes: PodVolumes, host_dirs: tuple[Path, Path]
) -> None:
    """As kubelet: the message says which mount failed, the host paths go to the agent's log."""
    _, outside = host_dirs
    scratch = volumes.mounts_for(container({"name": "scratch", "mountPath": "/s"}), {})[0]
    (scratch.host_path / "esc").symlink_to(outside)
    (scratch.host_path / "file").write_text("x")
    (scratch.host_path / "l1").symlink_to("l2")
    (scratch.host_path / "l2").symlink_to("l1")
    cases = {
        "esc": 'failed to prepare subPath for volumeMount "scratch" of container "main": '
        'subPath "esc": it resolves outside the volume',
        "esc/new": 'failed to prepare subPath for volumeMount "scratch" of container "main": '
        'subPath "esc/new": it resolves outside the volume',
        "file/new": 'failed to prepare subPath for volumeMount "scratch" of container "main": '
        'subPath "file/new": a component is not a directory',
        "l1": 'failed to prepare subPath for volumeMount "scratch" of container "main": '
        'subPath "l1": too many levels of symbolic links',
    }
    for sub_path, message in cases.items():
        with pytest.raises(ContainerConfigError) as caught:
            volumes.mounts_for(
                container({"name": "scratch", "mountPath": "/s", "subPath": sub_path}), {}
            )
        assert caught.value.message == message
        assert str(outside) not in caught.value.message
    # subPathExpr: checked after expansion, the same way.
    with pytest.raises(ContainerConfigError, match="it resolves outside the volume"):
        volumes.mounts_for(
            container({"name": "scratch", "mountPath": "/s", "subPathExpr": "$(D)"}), {"D": "esc"}
        )
    assert sorted(os.listdir(outside)) == ["secret"]


@pytest.mark.parametrize("kind", ["DirectoryOrCreate", "FileOrCreate", "Directory", ""])
def test_host_path_types_never_create_or_resolve_outside(
    host_dirs: tuple[Path, Path], kind: str
) -> None:
    allowed, outside = host_dirs
    (allowed / "esc").symlink_to(outside)
    (allowed / "dangling").symlink_to(outside / "made-by-pod")
    for path in (allowed / "esc", allowed / "esc" / "new", allowed / "dangling"):
        with pytest.raises(HostPathError, match="is not allowed on this node"):
            check_host_path({"path": str(path), "type": kind}, [str(allowed)])
    assert sorted(os.listdir(outside)) == ["secret"]


def test_host_path_links_inside_the_allowed_directory_resolve(
    host_dirs: tuple[Path, Path],
) -> None:
    allowed, _ = host_dirs
    (allowed / "alias").symlink_to("data")
    checked = check_host_path({"path": str(allowed / "alias"), "type": "Directory"}, [str(allowed)])
    assert (checked.path, checked.root) == (allowed / "data", allowed)
    made = check_host_path(
        {"path": str(allowed / "alias" / "x" / "y"), "type": "DirectoryOrCreate"}, [str(allowed)]
    )
    assert made.path == allowed / "data" / "x" / "y" and made.path.is_dir()
    created = check_host_path(
        {"path": str(allowed / "alias" / "f"), "type": "FileOrCreate"}, [str(allowed)]
    )
    assert created.path == allowed / "data" / "f" and created.path.read_bytes() == b""
    fd = open_beneath(checked.root, checked.path)
    try:
        assert fd_path(fd) == allowed / "data"
    finally:
        os.close(fd)
    # Lexically outside every allowed directory: refused without looking at the disk.
    with pytest.raises(HostPathError, match=r"allowed_host_paths: .*allowed\)"):
        check_host_path({"path": str(allowed.parent / "allowed-not")}, [str(allowed)])
