"""kube-controller-manager's bootstrapsigner and tokencleaner controllers.

``kubeadm join`` reads ``kube-public/cluster-info`` anonymously and over unverified
TLS, so it trusts the ``kubeconfig`` in it only if ``jws-kubeconfig-<token-id>`` is
the detached JWS that its own token makes of it: proof that whoever published the
ConfigMap knows the token secret.  :class:`BootstrapSigner` keeps those keys, as
``pkg/controller/bootstrap/bootstrapsigner.go`` does: on any change to cluster-info or
to a ``bootstrap.kubernetes.io/token`` Secret in ``kube-system`` it drops every
``jws-kubeconfig-*`` key, signs the current ``kubeconfig`` with every token fit to
sign (named ``bootstrap-token-<id>`` with a matching ``token-id``, a
``token-secret``, not expired, ``usage-bootstrap-signing: "true"``) and writes the
ConfigMap back only if the set of signatures changed (a conflict is left to the
next event, as kube leaves it to its informer).

It looks at expiry only when something changes, as kube's does; expired tokens
disappear because :class:`TokenCleaner` deletes their Secret at their
``expiration`` (``tokencleaner.go``: UID precondition, an unreadable expiration
counts as passed), and that deletion re-signs.  Both go by the control plane's
clock, so a test moves a ``ManualClock`` past the expiry instead of sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

from kubelet_core._controlplane import bootstrap_tokens
from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import DeleteOptions, Registry
from kubelet_core._controlplane.resources import CONFIGMAPS, SECRETS
from kubelet_core._controlplane.store import Event, Store
from kubelet_core._pki import detached_signature

KubeObject = dict[str, Any]
log = logging.getLogger(__name__)

CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO = "cluster-info"
KUBECONFIG_KEY = "kubeconfig"
SIGNATURE_PREFIX = "jws-kubeconfig-"
_SECRET_NAME = re.compile(r"^bootstrap-token-([a-z0-9]{6})$")


def _is_token_secret(obj: KubeObject) -> bool:
    return (
        obj.get("type") == bootstrap_tokens.SECRET_TYPE
        and obj["metadata"].get("namespace") == bootstrap_tokens.NAMESPACE
    )


def signing_token(secret: KubeObject, now: float) -> tuple[str, str] | None:
    """``(token-id, token-secret)`` if this Secret may sign cluster-info (kube's
    validateSecretForSigning), else None."""
    match = _SECRET_NAME.match(str(secret["metadata"].get("name") or ""))
    token_id = bootstrap_tokens.field(secret, "token-id")
    if match is None or not token_id or token_id != match.group(1):
        return None
    token_secret = bootstrap_tokens.field(secret, "token-secret")
    if not token_secret:
        return None
    if bootstrap_tokens.seconds_to_expiry(secret, now) == 0.0:
        return None
    if bootstrap_tokens.field(secret, "usage-bootstrap-signing") != "true":
        return None
    return token_id, token_secret


def signed(config_map: KubeObject, tokens: dict[str, str]) -> KubeObject | None:
    """cluster-info with exactly one signature per token, or None if it already has them
    (or has no ``kubeconfig`` to sign)."""
    data: dict[str, str] = dict(config_map.get("data") or {})
    content = data.get(KUBECONFIG_KEY)
    if content is None:
        return None
    old = {k: data.pop(k) for k in list(data) if k.startswith(SIGNATURE_PREFIX)}
    for token_id, token_secret in tokens.items():
        data[SIGNATURE_PREFIX + token_id] = detached_signature(content, token_id, token_secret)
    if {k: v for k, v in data.items() if k.startswith(SIGNATURE_PREFIX)} == old:
        return None
    body = copy.deepcopy(config_map)
    body["data"] = data
    return body


class BootstrapSigner(BackgroundController):
    """Keeps ``jws-kubeconfig-<token-id>`` in cluster-info for every signing token."""

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self._wake = asyncio.Event()

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        self._wake.set()  # the first pass signs whatever is already there
        self._launch("bootstrap-signer")

    def _on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        if event.rt is CONFIGMAPS:
            if (
                event.type != "DELETED"
                and meta.get("namespace") == CLUSTER_INFO_NAMESPACE
                and meta.get("name") == CLUSTER_INFO
            ):
                self._wake.set()
        elif event.rt is SECRETS and _is_token_secret(event.obj):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.sign()
            except Exception:
                log.exception("signing cluster-info failed")

    def tokens(self) -> dict[str, str]:
        """token-id → token-secret of every token fit to sign (the first Secret wins a
        duplicate id, which its name already rules out)."""
        now = self.clock.time()
        found: dict[str, str] = {}
        for entry in self.store.entries(SECRETS, bootstrap_tokens.NAMESPACE):
            if entry.obj.get("type") != bootstrap_tokens.SECRET_TYPE:
                continue
            token = signing_token(entry.obj, now)
            if token is not None:
                found.setdefault(*token)
        return found

    async def sign(self) -> None:
        entry = self.store.get(CONFIGMAPS, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO)
        if entry is None:
            return
        body = signed(entry.obj, self.tokens())
        if body is None:
            return
        try:
            await self.registry.update(CONFIGMAPS, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO, body)
        except ApiError as exc:
            if exc.code not in (404, 409):
                log.warning("updating cluster-info: %s", exc.message)


class TokenCleaner(BackgroundController):
    """Deletes each bootstrap token Secret when its ``expiration`` comes."""

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self._wake = asyncio.Event()
        self._pending: set[tuple[str, str]] = set()
        #: Secret (namespace, name) → when to look at it again, on ``clock.now()``'s scale.
        self._deadlines: dict[tuple[str, str], float] = {}

    def start(self) -> None:
        for entry in self.store.entries(SECRETS, bootstrap_tokens.NAMESPACE):
            if _is_token_secret(entry.obj):
                self._pending.add(_key(entry.obj))
        self.store.add_listener(self._on_event)
        self._wake.set()
        self._launch("token-cleaner")

    def _on_event(self, event: Event) -> None:
        if event.rt is not SECRETS or not _is_token_secret(event.obj):
            return
        key = _key(event.obj)
        if event.type == "DELETED":
            self._deadlines.pop(key, None)
            return
        self._pending.add(key)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            deadline = min(self._deadlines.values(), default=None)
            await self.clock.wait(self._wake, deadline)
            self._wake.clear()
            now = self.clock.now()
            due = {key for key, at in self._deadlines.items() if at <= now}
            for key in due:
                del self._deadlines[key]
            work, self._pending = self._pending | due, set()
            for key in work:
                try:
                    await self._evaluate(key)
                except Exception:
                    log.exception("token cleaner: %s/%s", *key)

    async def _evaluate(self, key: tuple[str, str]) -> None:
        entry = self.store.get(SECRETS, *key)
        if entry is None or not _is_token_secret(entry.obj):
            self._deadlines.pop(key, None)
            return
        left = bootstrap_tokens.seconds_to_expiry(entry.obj, self.clock.time())
        if left is None:
            self._deadlines.pop(key, None)
        elif left > 0:
            self._deadlines[key] = self.clock.now() + left
        else:
            self._deadlines.pop(key, None)
            log.info("deleting expired bootstrap token Secret %s/%s", *key)
            options = DeleteOptions({"preconditions": {"uid": entry.obj["metadata"].get("uid")}})
            try:
                await self.registry.delete(SECRETS, *key, options)
            except ApiError as exc:
                if exc.code not in (404, 409):
                    raise


def _key(obj: KubeObject) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("namespace") or ""), str(meta["name"])
