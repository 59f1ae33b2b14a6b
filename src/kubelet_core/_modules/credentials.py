"""Registry credentials from ``imagePullSecrets`` (dockerconfigjson and dockercfg).

Kubernetes stores registry logins in Secrets of type
``kubernetes.io/dockerconfigjson`` (``{"auths": {host: entry}}`` under the key
``.dockerconfigjson``) or the older ``kubernetes.io/dockercfg`` (``{host:
entry}`` under ``.dockercfg``).  An entry holds either ``auth`` (base64 of
``user:password``, what ``docker login`` writes) or ``username`` and
``password``; both forms are read (Krustlet ignored ``auth``).  Keys may be
bare hosts or URLs (``https://index.docker.io/v1/``), so keys and the wanted
registry are both reduced to a host before comparing; Docker Hub's aliases
are one host.  The first secret (in pod order) with a matching entry wins.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from kubelet_core._modules.reference import DOCKER_HUB
from kubelet_core._provider.base import KubeObject

_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


@dataclasses.dataclass(frozen=True)
class RegistryCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"RegistryCredentials(username={self.username!r}, password=***)"


def normalize_registry_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``Reg.example:5000/x`` -> host:port."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def credentials_from_pull_secrets(
    secrets: Iterable[KubeObject], registry: str
) -> RegistryCredentials | None:
    """The credentials for ``registry`` (a host[:port]) in ``secrets``, or None.

    Malformed secrets are skipped rather than fatal: kubelet, too, only logs
    them and pulls anonymously.
    """
    wanted = normalize_registry_host(registry)
    for secret in secrets:
        for key, entry in _entries(secret):
            if normalize_registry_host(key) != wanted:
                continue
            creds = _entry_credentials(entry)
            if creds is not None:
                return creds
    return None


def _entries(secret: KubeObject) -> list[tuple[str, Any]]:
    data = secret.get("data") or {}
    string_data = secret.get("stringData") or {}
    for field, nested in ((".dockerconfigjson", True), (".dockercfg", False)):
        raw: str | None = None
        if field in data:
            try:
                raw = base64.b64decode(data[field]).decode()
            except (binascii.Error, UnicodeDecodeError, TypeError):
                continue
        elif field in string_data:
            raw = str(string_data[field])
        if raw is None:
            continue
        try:
            config = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(config, dict):
            continue
        auths = config.get("auths", {}) if nested else config
        if isinstance(auths, dict):
            return list(auths.items())
    return []


def _entry_credentials(entry: Any) -> RegistryCredentials | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username:
        return RegistryCredentials(username, password)
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, secret = base64.b64decode(auth).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if sep and user:
            return RegistryCredentials(user, secret)
    return None
