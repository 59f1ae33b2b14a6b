"""Node-side volume machinery: payloads, atomic writes, object watches, tokens, hostPath.

:class:`kubelet_core._containers.volumes.PodVolumes` drives these for each pod;
one :class:`VolumeHost` (built by :func:`make_volume_host`) is shared by all
pods of a provider.  Nothing here imports the control plane.
"""

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
