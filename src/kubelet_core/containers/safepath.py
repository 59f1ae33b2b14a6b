"""Resolving paths beneath a trusted directory (re-exports :mod:`kubelet_core.volumes.safepath`).

The implementation lives in the volumes layer, because ``hostPath`` checks
(:mod:`kubelet_core.volumes.hostpath`) need it and that layer may not import
``kubelet_core.containers`` (``.importlinter``).  Runtimes use it from here,
next to :class:`~kubelet_core.containers.runtime.VolumeMount`: at start, open
each mount with ``open_beneath(mount.root, mount.host_path)`` so a symlink
planted after the core's check cannot redirect it.
"""

from kubelet_core.volumes.safepath import (
    PathEscapeError,
    fd_path,
    mkdirs_beneath,
    open_beneath,
    open_beneath_nofollow,
    relative_parts,
    resolve_beneath,
    resolve_within,
)

__all__ = [
    "PathEscapeError",
    "fd_path",
    "mkdirs_beneath",
    "open_beneath",
    "open_beneath_nofollow",
    "relative_parts",
    "resolve_beneath",
    "resolve_within",
]
