"""Node-side volume machinery: payloads, atomic writes, object watches, tokens, hostPath.

:class:`kubelet_core._containers.volumes.PodVolumes` drives these for each pod;
one :class:`VolumeHost` (built by :func:`make_volume_host`) is shared by all
pods of a provider.  Nothing here imports the control plane.  The names below
load on first use (see :mod:`kubelet_core._lazy`): a module host imports
:mod:`kubelet_core._volumes.safepath` alone, not the object watches and the
API client they bring.
"""

from typing import TYPE_CHECKING

from kubelet_core._lazy import lazy_exports

if TYPE_CHECKING:
    from kubelet_core._volumes.atomic import FileContent, write_payload
    from kubelet_core._volumes.host import make_volume_host, tmpfs_root
    from kubelet_core._volumes.objects import ObjectWatcher
    from kubelet_core._volumes.sources import MountError, VolumeHost
    from kubelet_core._volumes.tokens import Token, TokenManager

__all__ = [
    "FileContent",
    "MountError",
    "ObjectWatcher",
    "Token",
    "TokenManager",
    "VolumeHost",
    "make_volume_host",
    "tmpfs_root",
    "write_payload",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "kubelet_core._volumes.atomic": ("FileContent", "write_payload"),
        "kubelet_core._volumes.host": ("make_volume_host", "tmpfs_root"),
        "kubelet_core._volumes.objects": ("ObjectWatcher",),
        "kubelet_core._volumes.sources": ("MountError", "VolumeHost"),
        "kubelet_core._volumes.tokens": ("Token", "TokenManager"),
    },
)
