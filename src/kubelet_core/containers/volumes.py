"""Pod volumes on the host, and each container's mounts of them.

Every volume of a pod becomes a host directory before its containers start;
a container's ``volumeMounts`` then map to :class:`VolumeMount` entries
(``subPath`` / ``subPathExpr`` honoured) that the runtime preopens.  Only
``emptyDir`` exists so far: a fresh directory per pod under
``<data_dir>/volumes/<namespace>_<name>_<uid>/empty-dir/<volume>``, removed
with the pod.  Other volume types are kept as "unsupported" and fail only the
containers that mount them, with CreateContainerConfigError, as kubelet does
for configuration it cannot resolve.  New types plug in as one method each
(``_prepare_<type>``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from kubelet_core.containers.env import expand
from kubelet_core.containers.runtime import VolumeMount
from kubelet_core.provider.base import KubeObject
from kubelet_core.provider.errors import ContainerConfigError


def volume_type(volume: KubeObject) -> str:
    """The volume's source kind: its one key besides ``name`` (``emptyDir``, ``hostPath``...)."""
    kinds = [key for key in volume if key != "name"]
    return kinds[0] if kinds else "emptyDir"  # a volume with no source is an emptyDir


def pod_dir_name(pod: KubeObject) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}_{meta.get('name', '')}_{meta.get('uid', '')}"


class PodVolumes:
    """The host side of one pod's volumes."""

    def __init__(self, root: Path, pod: KubeObject) -> None:
        self.root = root / pod_dir_name(pod)
        self._pod = pod
        self._paths: dict[str, Path] = {}
        self._errors: dict[str, str] = {}

    def prepare(self) -> None:
        """Create every volume this provider supports; remember why the others failed."""
        for volume in (self._pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name", ""))
            kind = volume_type(volume)
            preparer = getattr(self, f"_prepare_{kind.lower()}", None)
            if preparer is None:
                self._errors[name] = f"volume type {kind} is not supported yet"
                continue
            try:
                self._paths[name] = preparer(name, volume.get(kind) or {})
            except ContainerConfigError as exc:
                self._errors[name] = exc.message
            except OSError as exc:
                self._errors[name] = f"volume {name!r}: {exc}"

    def _prepare_emptydir(self, name: str, source: KubeObject) -> Path:
        path = self.root / "empty-dir" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def mounts_for(self, container: KubeObject, env: Mapping[str, str]) -> list[VolumeMount]:
        """The container's mounts as host paths; ContainerConfigError if one cannot be made."""
        mounts: list[VolumeMount] = []
        for mount in container.get("volumeMounts") or []:
            name = str(mount.get("name", ""))
            if name in self._errors:
                raise ContainerConfigError(self._errors[name])
            if name not in self._paths:
                raise ContainerConfigError(
                    f"container {container.get('name')!r} mounts unknown volume {name!r}"
                )
            host = self._paths[name]
            sub_path = str(mount.get("subPath") or "")
            if not sub_path and mount.get("subPathExpr"):
                sub_path = expand(str(mount["subPathExpr"]), env.get)
            if sub_path:
                host = self._sub_path(host, sub_path, name)
            mounts.append(
                VolumeMount(
                    host_path=host,
                    container_path=str(mount.get("mountPath", "")),
                    read_only=bool(mount.get("readOnly", False)),
                )
            )
        return mounts

    @staticmethod
    def _sub_path(base: Path, sub_path: str, volume: str) -> Path:
        pure = PurePosixPath(sub_path)
        if pure.is_absolute() or ".." in pure.parts:
            raise ContainerConfigError(
                f"volume {volume!r}: subPath {sub_path!r} must be a relative path without '..'"
            )
        path = base.joinpath(*pure.parts)
        if not path.exists():
            path.mkdir(parents=True, exist_ok=True)  # kubelet creates a missing subPath as a dir
        return path

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
