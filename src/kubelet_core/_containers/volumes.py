"""Pod volumes on the host, kept up to date, and each container's mounts of them.

Every volume of a pod becomes a host directory before any of its containers
starts (kubelet mounts all pod volumes first, used or not):

* ``emptyDir``: a fresh directory, on tmpfs for ``medium: Memory`` when the
  node has one; ``sizeLimit`` is enforced by measuring usage every
  ``VolumeHost.size_check_interval`` and evicting the pod when over;
* ``configMap`` / ``secret`` / ``downwardAPI`` / ``projected``: payloads
  (:mod:`kubelet_core._volumes.sources`) written with the ``..data`` swap
  (:mod:`kubelet_core._volumes.atomic`) and rewritten live when a used object
  changes (watch callbacks), when the pod's labels or annotations change
  (:meth:`PodVolumes.update_pod`) or when a projected token is due for
  refresh; secret-bearing volumes live on tmpfs when the node has one, else
  in 0700 directories;
* ``hostPath``: the host path itself, only under ``allowed_host_paths``.

Paths are resolved beneath a trusted root, never by joining strings and
following what is there (:mod:`kubelet_core._volumes.safepath`): a ``subPath``
or ``subPathExpr`` is opened beneath its volume's directory, so symlinks a
container left in the volume are followed only while they stay inside it; one
leading out fails the container with kubelet's ``failed to prepare subPath
for volumeMount "..." of container "..."`` (CreateContainerConfigError).  Every
:class:`VolumeMount` carries its ``root`` (the volume directory, or the allowed
host path) for the runtime to re-open ``host_path`` beneath it at start.

A volume that cannot be set up yet (missing ConfigMap, refused hostPath) is a
``FailedMount``: :meth:`setup` returns the messages and the pod runner retries
with back-off, woken early by :meth:`wait_changed` when a watched object
changes.  Volume types nobody implemented stay "unsupported" and fail only the
containers that mount them, with CreateContainerConfigError.

Layout: ``<data_dir>/volumes/<namespace>_<name>_<uid>/<kind>/<volume>`` (and
the same under the tmpfs root); :meth:`remove` deletes both, and
:func:`remove_stale` clears what a crashed agent left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

import structlog

from kubelet_core._apiclient.objects import uid as uid_of
from kubelet_core._containers.env import expand
from kubelet_core._containers.poddir import pod_dir_name
from kubelet_core._containers.runtime import VolumeMount
from kubelet_core._provider.base import KubeObject
from kubelet_core._provider.errors import ContainerConfigError
from kubelet_core._quantity import parse_quantity
from kubelet_core._volumes.atomic import PayloadError, write_payload
from kubelet_core._volumes.hostpath import HostPathError, check_host_path
from kubelet_core._volumes.objects import ObjectReader
from kubelet_core._volumes.safepath import PathEscapeError, mkdirs_beneath, resolve_within
from kubelet_core._volumes.sources import Builder, MountError, VolumeHost
from kubelet_core._volumes.trees import remove_tree
from kubelet_core._volumes.usage import TreeTooDeep, disk_usage

log = structlog.get_logger(__name__)

#: Volume kinds whose content the agent writes (and rewrites).
CONTENT_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})
_SECRET_KINDS = frozenset({"secret", "projected"})
_DIR_NAMES = {
    "emptyDir": "empty-dir",
    "configMap": "configmap",
    "secret": "secret",
    "downwardAPI": "downward-api",
    "projected": "projected",
}


#: The directories content volumes are written in (under a pod's volumes directory).
CONTENT_DIRS = tuple(_DIR_NAMES[kind] for kind in sorted(CONTENT_KINDS))


def volume_type(volume: KubeObject) -> str:
    """The volume's source kind: its one key besides ``name`` (``emptyDir``, ``hostPath``...)."""
    kinds = [key for key in volume if key != "name"]
    return kinds[0] if kinds else "emptyDir"  # a volume with no source is an emptyDir


class PodVolumes:
    """The host side of one pod's volumes."""

    def __init__(
        self,
        root: Path,
        pod: KubeObject,
        *,
        host: VolumeHost | None = None,
        group: int | None = None,
    ) -> None:
        self.root = root / pod_dir_name(pod)
        #: Group owning the volumes (fsGroup, see :mod:`kubelet_core._containers.identity`).
        self.group = group
        self.host = host
        self.secret_root = (
            host.secret_root / pod_dir_name(pod)
            if host is not None and host.secret_root is not None
            else None
        )
        self._pod = pod
        self._uid = uid_of(pod)
        #: Whose subscriptions these are in the node's object cache (dropped by :meth:`release`).
        self._owner = f"pod:{self._uid or pod_dir_name(pod)}"
        self._paths: dict[str, Path] = {}
        self._roots: dict[str, Path] = {}  # the trusted directory each volume's paths stay in
        self._errors: dict[str, str] = {}  # unsupported: fails the containers mounting it
        self._refresh_at: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._dirty = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self._builder = (
            Builder(host, self._owner, self._object_changed) if host is not None else None
        )

    @property
    def objects(self) -> ObjectReader | None:
        """The ConfigMaps and Secrets as this pod reads them for env and image pulls.

        Reads go through the node's cache and keep a watch on each object until
        the pod's volumes are released, as volumes' own reads do.
        """
        return self.host.objects.reader(self._owner) if self.host is not None else None

    # -- setting up ------------------------------------------------------------------------

    def _volumes(self) -> list[KubeObject]:
        return list((self._pod.get("spec") or {}).get("volumes") or [])

    def _dir(self, kind: str, name: str) -> Path:
        base = self.root
        if self.secret_root is not None and (
            kind in _SECRET_KINDS or (kind == "emptyDir" and self._memory_medium(name))
        ):
            base = self.secret_root
        return base / _DIR_NAMES[kind] / name

    def _memory_medium(self, name: str) -> bool:
        for volume in self._volumes():
            if volume.get("name") == name:
                return (volume.get("emptyDir") or {}).get("medium") == "Memory"
        return False

    async def setup(self) -> dict[str, str]:
        """Set up every volume not ready yet; returns ``{volume: FailedMount message}``."""
        failures: dict[str, str] = {}
        self._changed.clear()  # changes from here on wake wait_changed()
        for volume in self._volumes():
            name = str(volume.get("name", ""))
            if name in self._paths or name in self._errors:
                continue
            kind = volume_type(volume)
            source = volume.get(kind) or {}
            try:
                if kind == "emptyDir":
                    path = self._dir(kind, name)
                    path.mkdir(parents=True, exist_ok=True)
                    os.chmod(path, 0o777)  # as kubelet: writable whatever the pod's user
                    if self.group is not None:
                        os.chown(path, -1, self.group)
                    root = path
                elif kind == "hostPath":
                    allow = self.host.allowed_host_paths if self.host is not None else ()
                    checked = check_host_path(source, allow)
                    path, root = checked.path, checked.root
                elif kind in CONTENT_KINDS:
                    path = root = await self._write_content(name, kind, source)
                else:
                    self._errors[name] = f"volume type {kind} is not supported"
                    continue
            except (MountError, HostPathError) as exc:
                failures[name] = exc.message
                continue
            except (OSError, PayloadError) as exc:
                failures[name] = str(exc)
                continue
            self._paths[name] = path
            self._roots[name] = root
        return failures

    async def _write_content(self, name: str, kind: str, source: KubeObject) -> Path:
        if self._builder is None:
            raise MountError(f"volume type {kind} needs an API client, and the node has none")
        build = await self._builder.build(self._pod, kind, source)
        path = self._dir(kind, name)
        secret = kind in _SECRET_KINDS
        if secret:  # private parents keep the host's users out ...
            for parent in (path.parent.parent, path.parent):
                parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(parent, 0o700)
        # ... while the volume itself is readable by the pod's user (its container
        # opens it by descriptor, without walking the private parents).
        files = build.files
        if self.group is not None:  # as kubelet's fsGroup: the group may read every file
            files = {k: dataclasses.replace(f, mode=f.mode | 0o440) for k, f in files.items()}
        await asyncio.to_thread(write_payload, path, files, dir_mode=0o755, group=self.group)
        if build.refresh_at is not None:
            self._refresh_at[name] = build.refresh_at
        else:
            self._refresh_at.pop(name, None)
        return path

    def _object_changed(self) -> None:
        self._dirty.set()
        self._changed.set()

    async def wait_changed(self, timeout: float) -> None:
        """Until a used object changes (or ``timeout``): the retry of a failed setup."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()

    # -- keeping up to date ----------------------------------------------------------------

    def update_pod(self, pod: KubeObject) -> None:
        """A new version of the pod: downward-API files follow labels and annotations."""
        self._pod = pod
        self._dirty.set()
        self._changed.set()

    async def refresh(self) -> None:
        """Rewrite every content volume from the current objects (unchanged ones untouched)."""
        for volume in self._volumes():
            name = str(volume.get("name", ""))
            kind = volume_type(volume)
            if kind not in CONTENT_KINDS or name not in self._paths:
                continue
            try:
                await self._write_content(name, kind, volume.get(kind) or {})
            except (MountError, OSError, PayloadError) as exc:
                # As kubelet: the last good content stays while the source is broken.
                log.info(
                    "volume refresh failed; keeping its content",
                    volume=name,
                    error=getattr(exc, "message", str(exc)),
                )

    def start_sync(self, evict: Callable[[str], None]) -> None:
        """Keep content volumes current and watch emptyDir size limits, until :meth:`remove`."""
        if self._sync_task is None:
            self._sync_task = asyncio.create_task(
                self._sync(evict), name=f"volumes {self.root.name}"
            )

    def stop_sync(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            self._sync_task = None

    def _limits(self) -> dict[str, int]:
        limits: dict[str, int] = {}
        for volume in self._volumes():
            if volume_type(volume) != "emptyDir":
                continue
            raw = (volume.get("emptyDir") or {}).get("sizeLimit")
            if raw is not None:
                with contextlib.suppress(ValueError):
                    limits[str(volume.get("name"))] = int(parse_quantity(raw))
        return limits

    async def _sync(self, evict: Callable[[str], None]) -> None:
        interval = self.host.size_check_interval if self.host is not None else 2.0
        limits = self._limits()
        while True:
            timeout: float | None = interval if limits else None
            if self._refresh_at:
                due = min(self._refresh_at.values()) - time.time()
                timeout = max(0.0, due) if timeout is None else max(0.0, min(timeout, due))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._dirty.wait()
            token_due = any(at <= time.time() for at in self._refresh_at.values())
            if self._dirty.is_set() or token_due:
                self._dirty.clear()
                await self.refresh()
            for name, limit in limits.items():
                path = self._paths.get(name)
                if path is None:
                    continue
                raw = next(
                    (v.get("emptyDir") or {}).get("sizeLimit")
                    for v in self._volumes()
                    if v.get("name") == name
                )
                try:
                    used = await asyncio.to_thread(disk_usage, path)
                except TreeTooDeep as exc:  # cannot be measured: over the limit (fail closed)
                    evict(f'Usage of EmptyDir volume "{name}" cannot be measured: {exc}. ')
                    return
                if used > limit:
                    evict(f'Usage of EmptyDir volume "{name}" exceeds the limit "{raw}". ')
                    return

    # -- mounts ------------------------------------------------------------------------------

    def _is_content(self, name: str) -> bool:
        return any(
            v.get("name") == name and volume_type(v) in CONTENT_KINDS for v in self._volumes()
        )

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
                host = self._sub_path(host, sub_path, name, str(container.get("name", "")))
            mounts.append(
                VolumeMount(
                    host_path=host,
                    container_path=str(mount.get("mountPath", "")),
                    # configMap, secret, downwardAPI and projected volumes are always
                    # mounted read-only, as kubelet does, whatever the mount says.
                    read_only=bool(mount.get("readOnly", False)) or self._is_content(name),
                    root=self._roots.get(name),
                )
            )
        return mounts

    @staticmethod
    def _sub_path(base: Path, sub_path: str, volume: str, container: str) -> Path:
        """``sub_path`` resolved beneath the volume directory ``base`` (made if missing).

        As kubelet: links inside the volume are followed, the real path is
        what gets mounted; a subPath resolving outside the volume is refused
        with kubelet's message, the details (host paths) only in the log.
        """
        pure = PurePosixPath(sub_path)
        if pure.is_absolute() or ".." in pure.parts:
            raise ContainerConfigError(
                f"volume {volume!r}: subPath {sub_path!r} must be a relative path without '..'"
            )
        relative = str(pure)
        target = base.joinpath(*pure.parts)
        what = f'volumeMount "{volume}" of container "{container}"'
        try:
            return resolve_within(base, target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _sub_path_error(f"failed to prepare subPath for {what}", sub_path, exc) from None
        try:  # kubelet creates a missing subPath as a directory, with the volume's mode
            mkdirs_beneath(base, relative, mode=stat.S_IMODE(os.stat(base).st_mode))
        except OSError as exc:
            raise _sub_path_error(
                f"failed to create subPath directory for {what}", sub_path, exc
            ) from None
        try:
            return resolve_within(base, target)
        except OSError as exc:
            raise _sub_path_error(f"failed to prepare subPath for {what}", sub_path, exc) from None

    # -- removing ------------------------------------------------------------------------------

    def remove(self) -> None:
        """Stop watching and remove the files (blocking: see :meth:`aremove`)."""
        self.release()
        self.remove_files()

    async def aremove(self) -> None:
        """:meth:`remove`, with the file removal off the event loop."""
        self.release()
        await asyncio.to_thread(self.remove_files)

    def release(self) -> None:
        """Stop the volume's updates and watches (event-loop side)."""
        self.stop_sync()
        if self.host is not None and self._builder is not None:
            self.host.objects.unsubscribe(self._builder.owner)
            self.host.tokens.forget_pod(self._uid)

    def remove_files(self) -> None:
        """Remove the pod's volume directories (any thread)."""
        remove_tree(self.root)  # a pod's tree can be nested arbitrarily deep
        if self.secret_root is not None:
            remove_tree(self.secret_root)


def _sub_path_error(message: str, sub_path: str, exc: OSError) -> ContainerConfigError:
    """kubelet's message, plus why in words that name no host path."""
    log.warning(message, sub_path=sub_path, error=str(exc))
    if isinstance(exc, PathEscapeError):
        why = "it resolves outside the volume"
    elif exc.errno == errno.ELOOP:
        why = "too many levels of symbolic links"
    elif exc.errno == errno.ENOTDIR:
        why = "a component is not a directory"
    else:
        why = exc.strerror or type(exc).__name__
    return ContainerConfigError(f'{message}: subPath "{sub_path}": {why}')


def remove_stale(roots: Iterable[Path], keep_uids: set[str] | None) -> list[str]:
    """Remove pod volume directories whose pod uid is not in ``keep_uids`` (None: all).

    Returns the directory names removed.  Used at provider start, after a crash.
    """
    removed: list[str] = []
    for root in roots:
        if not root.is_dir():
            continue
        for entry in root.iterdir():
            uid = entry.name.rsplit("_", 1)[-1]
            if keep_uids is not None and uid in keep_uids:
                continue
            remove_tree(entry)
            removed.append(entry.name)
    return removed
