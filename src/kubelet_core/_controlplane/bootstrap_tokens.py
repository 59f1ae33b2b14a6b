"""Bootstrap tokens: ``bootstrap.kubernetes.io/token`` Secrets as bearer credentials.

A token ``<id>.<secret>`` (``[a-z0-9]{6}.[a-z0-9]{16}``) is valid while the Secret
``kube-system/bootstrap-token-<id>`` has that ``token-secret``, says
``usage-bootstrap-authentication: "true"``, has not passed its ``expiration`` and is
not being deleted; it authenticates as ``system:bootstrap:<id>`` in
``system:bootstrappers`` plus its ``auth-extra-groups`` (each
``system:bootstrappers:...``), as kube-apiserver's bootstrap authenticator does.
Tokens are made by :func:`new_token` and stored by :func:`token_secret`'s body; the
``cluster-info`` ConfigMap (:func:`cluster_info`) lets a joining node find and pin the CA.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import re
import secrets
import time
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.resources import SECRETS
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
SECRET_TYPE = "bootstrap.kubernetes.io/token"
NAMESPACE = "kube-system"
GROUP = "system:bootstrappers"
TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_EXTRA_GROUP = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_token() -> str:
    def pick(n: int) -> str:
        return "".join(secrets.choice(_ALPHABET) for _ in range(n))

    return f"{pick(6)}.{pick(16)}"


def token_secret(
    token: str,
    *,
    ttl: dt.timedelta | None,
    extra_groups: tuple[str, ...] = (),
    description: str = "",
) -> KubeObject:
    """The Secret that makes ``token`` valid (what ``kubeadm token create`` stores)."""
    match = TOKEN.match(token)
    if match is None:
        raise ValueError("a bootstrap token has the form [a-z0-9]{6}.[a-z0-9]{16}")
    data = {
        "token-id": match.group(1),
        "token-secret": match.group(2),
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
    }
    if ttl is not None:
        expires = dt.datetime.now(dt.UTC) + ttl
        data["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    if extra_groups:
        data["auth-extra-groups"] = ",".join(extra_groups)
    if description:
        data["description"] = description
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"bootstrap-token-{match.group(1)}", "namespace": NAMESPACE},
        "type": SECRET_TYPE,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _field(data: dict[str, Any], key: str) -> str:
    try:
        return base64.b64decode(str(data.get(key) or ""), validate=True).decode()
    except (binascii.Error, ValueError):
        return ""


def field(secret: KubeObject, key: str) -> str:
    """A token Secret's ``data[key]`` as text, "" if absent or unreadable."""
    return _field(secret.get("data") or {}, key)


def seconds_to_expiry(secret: KubeObject, now: float) -> float | None:
    """Seconds the token has left at ``now`` (epoch seconds): None without an
    ``expiration``, 0 once it has passed or when it cannot be read as RFC 3339 (kube
    treats an unreadable expiration as passed)."""
    expiration = _field(secret.get("data") or {}, "expiration")
    if not expiration:
        return None
    try:
        moment = dt.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        return 0.0  # RFC 3339 requires an offset; Go's time.Parse refuses one without
    return max(moment.timestamp() - now, 0.0)


class BootstrapTokenAuthenticator:
    """kube-apiserver's bootstrap token authenticator; expiry by ``clock`` (the control
    plane's, so a test that moves it sees tokens expire as the token cleaner does)."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock

    async def __call__(self, token: str) -> UserInfo | None:
        match = TOKEN.match(token)
        if match is None:
            return None
        token_id, token_secret_ = match.groups()
        entry = self.store.get(SECRETS, NAMESPACE, f"bootstrap-token-{token_id}")
        if entry is None:
            return None
        secret = entry.obj
        if secret.get("type") != SECRET_TYPE or secret["metadata"].get("deletionTimestamp"):
            return None
        data = secret.get("data") or {}
        if not hmac.compare_digest(_field(data, "token-secret"), token_secret_):
            return None
        if _field(data, "token-id") != token_id:
            return None
        if _field(data, "usage-bootstrap-authentication") != "true":
            return None
        now = self.clock.time() if self.clock is not None else time.time()
        if seconds_to_expiry(secret, now) == 0.0:
            return None
        extra = [g.strip() for g in _field(data, "auth-extra-groups").split(",") if g.strip()]
        if any(not _EXTRA_GROUP.match(g) for g in extra):
            return None
        groups = (GROUP, *extra, "system:authenticated")
        return UserInfo(f"system:bootstrap:{token_id}", groups)


def cluster_info(server: str, ca_pem: bytes) -> KubeObject:
    """kubeadm's ``kube-public/cluster-info``: the server and CA, readable by anyone."""
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=False)},
    }


def join_command(server: str, token: str, ca_cert_hash: str) -> str:
    return f"wasmlet join {server} --token {token} --discovery-token-ca-cert-hash {ca_cert_hash}"
