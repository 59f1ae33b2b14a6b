"""The files of ConfigMap, Secret, downward-API and projected volumes (payloads).

Each builder turns a volume source plus the objects it names into a
:data:`~kubelet_core._volumes.atomic.Payload` (path -> bytes and mode), with
kubelet's rules: without ``items`` every key becomes a file; with ``items``
only those, at their ``path``; ``mode`` beats ``defaultMode`` (0644); a
missing object or key is an error (:class:`MountError`, kubelet's message)
unless ``optional``, then it contributes nothing.  Builders register the
objects they read with the :class:`ObjectWatcher` so the volume is rewritten
when they change.  Projected volumes combine ConfigMaps, Secrets, downward-API
items and service account tokens in one directory.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from kubelet_core._apiclient import ApiError
from kubelet_core._apiclient.objects import namespace as namespace_of
from kubelet_core._provider.base import KubeObject
from kubelet_core._volumes.atomic import FileContent, PayloadError, check_path
from kubelet_core._volumes.downward import DownwardError, field_value, resource_value
from kubelet_core._volumes.objects import ObjectWatcher
from kubelet_core._volumes.tokens import DEFAULT_EXPIRATION, TokenManager

DEFAULT_MODE = 0o644


class MountError(Exception):
    """A volume that cannot be set up (yet): FailedMount, retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass
class VolumeHost:
    """Node-wide services the pod volumes share (one per provider)."""

    node_name: str
    node_ip: str
    objects: ObjectWatcher
    tokens: TokenManager
    allocatable: Callable[[], Awaitable[Mapping[str, Any]]]
    allowed_host_paths: tuple[str, ...] = ()
    #: tmpfs directory for secret-bearing volumes (None: on disk, 0700).
    secret_root: Path | None = None
    #: How often emptyDir usage is measured against ``sizeLimit``.
    size_check_interval: float = 2.0


@dataclasses.dataclass
class Build:
    """What building one volume's payload found out."""

    files: dict[str, FileContent] = dataclasses.field(default_factory=dict)
    #: Wall-clock time at which the payload must be rebuilt (token refresh), if any.
    refresh_at: float | None = None


def _mode(value: Any, default: int) -> int:
    return int(value) & 0o777 if value is not None else default


def _add(build: Build, path: str, data: bytes, mode: int) -> None:
    try:
        check_path(path)
    except PayloadError as exc:
        raise MountError(str(exc)) from None
    build.files[path] = FileContent(data, mode)


def _object_bytes(plural: str, obj: KubeObject) -> dict[str, bytes]:
    if plural == "secrets":
        return {str(k): base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
    data = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        data[str(key)] = base64.b64decode(str(value))
    return data


class Builder:
    """Builds payloads for one pod; ``on_change`` is called when a used object changes."""

    def __init__(self, host: VolumeHost, owner: str, on_change: Callable[[], None]) -> None:
        self.host = host
        self.owner = owner
        self.on_change = on_change

    async def _object(self, pod: KubeObject, plural: str, name: str) -> KubeObject | None:
        key = (plural, namespace_of(pod), name)
        self.host.objects.subscribe(key, self.owner, self.on_change)
        try:
            return await self.host.objects.get(key)
        except ApiError as exc:
            raise MountError(f"cannot read {plural[:-1]} {name!r}: {exc.reason}") from None

    async def keyed(
        self, pod: KubeObject, plural: str, source: KubeObject, default_mode: int, build: Build
    ) -> None:
        """A configMap or secret source (volume or projection) into ``build``."""
        name = str(source.get("name") or source.get("secretName") or "")
        obj = await self._object(pod, plural, name)
        optional = bool(source.get("optional"))
        singular = plural[:-1]
        if obj is None:
            if optional:
                return
            raise MountError(f'{singular} "{name}" not found')
        data = _object_bytes(plural, obj)
        items = source.get("items")
        if not items:
            for key, value in data.items():
                _add(build, key, value, default_mode)
            return
        for item in items:
            key = str(item.get("key", ""))
            if key not in data:
                if optional:
                    continue
                what = "config key" if plural == "configmaps" else "secret key"
                raise MountError(f"{singular} references non-existent {what}: {key}")
            _add(
                build,
                str(item.get("path") or key),
                data[key],
                _mode(item.get("mode"), default_mode),
            )

    async def downward(
        self, pod: KubeObject, source: KubeObject, default_mode: int, build: Build
    ) -> None:
        allocatable: Mapping[str, Any] | None = None
        for item in source.get("items") or []:
            path = str(item.get("path") or "")
            try:
                if item.get("fieldRef") is not None:
                    value = field_value(
                        pod,
                        str(item["fieldRef"].get("fieldPath", "")),
                        node_name=self.host.node_name,
                        node_ip=self.host.node_ip,
                        volume=True,
                    )
                elif item.get("resourceFieldRef") is not None:
                    if allocatable is None:
                        allocatable = await self.host.allocatable()
                    value = resource_value(
                        pod, item["resourceFieldRef"], container_name="", allocatable=allocatable
                    )
                else:
                    raise MountError(
                        f"downwardAPI item {path!r} has neither fieldRef nor resourceFieldRef"
                    )
            except DownwardError as exc:
                raise MountError(str(exc)) from None
            _add(build, path, value.encode(), _mode(item.get("mode"), default_mode))

    async def token(
        self, pod: KubeObject, source: KubeObject, default_mode: int, build: Build
    ) -> None:
        audience = str(source.get("audience") or "")
        expiration = int(source.get("expirationSeconds") or DEFAULT_EXPIRATION)
        try:
            token = await self.host.tokens.get(pod, (audience,) if audience else (), expiration)
        except ApiError as exc:
            account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
            raise MountError(
                f'failed to fetch token: serviceaccounts "{account}" token request: {exc.reason}'
            ) from None
        except (KeyError, ValueError) as exc:
            raise MountError(
                f"failed to fetch token: malformed TokenRequest answer ({exc})"
            ) from None
        _add(build, str(source.get("path") or "token"), token.token.encode(), default_mode)
        due = token.refresh_at(self.host.tokens.fraction)
        build.refresh_at = due if build.refresh_at is None else min(build.refresh_at, due)

    async def build(self, pod: KubeObject, kind: str, source: KubeObject) -> Build:
        """The payload of a ``configMap``/``secret``/``downwardAPI``/``projected`` volume."""
        build = Build()
        default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
        if kind == "configMap":
            await self.keyed(pod, "configmaps", source, default_mode, build)
        elif kind == "secret":
            await self.keyed(pod, "secrets", source, default_mode, build)
        elif kind == "downwardAPI":
            await self.downward(pod, source, default_mode, build)
        elif kind == "projected":
            for projection in source.get("sources") or []:
                if "configMap" in projection:
                    await self.keyed(
                        pod, "configmaps", projection["configMap"] or {}, default_mode, build
                    )
                elif "secret" in projection:
                    await self.keyed(
                        pod, "secrets", projection["secret"] or {}, default_mode, build
                    )
                elif "downwardAPI" in projection:
                    await self.downward(pod, projection["downwardAPI"] or {}, default_mode, build)
                elif "serviceAccountToken" in projection:
                    await self.token(
                        pod, projection["serviceAccountToken"] or {}, default_mode, build
                    )
                else:
                    kinds = ", ".join(sorted(projection)) or "empty"
                    raise MountError(f"projected source {kinds} is not supported")
        else:
            raise MountError(f"volume type {kind} has no payload")
        return build
