"""Building the node-wide :class:`VolumeHost`: tmpfs for secrets, node allocatable, watches.

Secret-bearing volumes (``secret``, ``projected``, ``emptyDir`` with
``medium: Memory``) go under ``/dev/shm/wasmlet-<digest of the data dir>``
when ``/dev/shm`` is a writable directory (it is tmpfs on Linux), so secrets
never reach a disk; the directory is 0700.  Without one they stay under the
data dir in 0700 directories.  The node's allocatable resources (defaults
for unset limits in ``resourceFieldRef``) are read from the Node object and
cached for a minute.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kubelet_core._volumes.objects import ObjectWatcher
from kubelet_core._volumes.sources import VolumeHost
from kubelet_core._volumes.tokens import TokenManager

SHM = Path("/dev/shm")


def tmpfs_root(data_dir: Path, shm: Path = SHM) -> Path | None:
    """A private tmpfs directory for this node's secrets, or None if there is none."""
    if not shm.is_dir() or not os.access(shm, os.W_OK | os.X_OK):
        return None
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    root = shm / f"wasmlet-{digest}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        os.chmod(root, 0o700)
    except OSError:
        return None
    return root


def allocatable_getter(
    api: Any, node_name: str, ttl: float = 60.0
) -> Callable[[], Awaitable[Mapping[str, Any]]]:
    cache: dict[str, Any] = {}

    async def get() -> Mapping[str, Any]:
        if cache and time.monotonic() - cache["at"] < ttl:
            return dict(cache["value"])
        value: Mapping[str, Any] = {}
        if api is not None:
            try:
                node = await api.request("GET", f"/api/v1/nodes/{node_name}")
                value = (node.get("status") or {}).get("allocatable") or {}
            except Exception:
                value = {}
        cache.update(at=time.monotonic(), value=value)
        return dict(value)

    return get


def make_volume_host(
    api: Any,
    *,
    node_name: str,
    node_ip: str,
    data_dir: Path,
    allowed_host_paths: Sequence[str] = (),
    shm: Path | None = SHM,
) -> VolumeHost:
    return VolumeHost(
        node_name=node_name,
        node_ip=node_ip,
        objects=ObjectWatcher(api),
        tokens=TokenManager(api),
        allocatable=allocatable_getter(api, node_name),
        allowed_host_paths=tuple(allowed_host_paths),
        secret_root=tmpfs_root(data_dir, shm) if shm is not None else None,
    )
