"""Who is calling the kubelet API, and may they: kubelet's webhook authn/authz.

Authentication tries, in kubelet's order: a client certificate the TLS layer
verified against the client CA (user = subject CN, groups = subject O), then a
bearer token checked with a ``TokenReview``, then anonymous (only when allowed).
A token that fails review is refused outright; it never falls back to anonymous.

Authorization asks the control plane with a ``SubjectAccessReview`` on the node
object, mapping URL paths to subresources exactly as kubelet does (``/stats`` →
``nodes/stats``, ``/metrics`` → ``nodes/metrics``, ``/logs`` → ``nodes/log``,
everything else → ``nodes/proxy``).  There is no shortcut for privileged groups:
the control plane's RBAC decides, as for kubelet.

Both answers are cached for short times, as kubelet's webhook caches are
(token review 2 min, a failed one 10 s; allow 5 min, deny 30 s), so a busy
``kubectl logs -f`` or a metrics scrape every 15 s costs no round trip.
Without an API client the server cannot ask anyone: it authenticates client
certificates only and allows every authenticated caller (kubelet's
``AlwaysAllow`` mode), which suits tests and single-user development.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar

from kubelet_core._provider.base import KubeObject

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

AUTHN_TTL = 120.0
AUTHN_FAILURE_TTL = 10.0
AUTHZ_ALLOW_TTL = 300.0
AUTHZ_DENY_TTL = 30.0

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"

_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_SUBRESOURCE_PREFIXES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"))


class ReviewApi(Protocol):
    """What the server needs of ``kubelet_core._apiclient.KubeApi``: one JSON request.

    It raises an exception carrying ``.status`` (``ApiError``) when the answer is not 2xx.
    """

    async def request(self, method: str, path: str, *, body: Any = None) -> Any: ...


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request does, in API terms: ``verb`` on ``nodes/<subresource>`` named ``name``."""

    verb: str
    subresource: str
    name: str
    resource: str = "nodes"

    def describe(self, user: User) -> str:
        return (
            f"user={user.name}, verb={self.verb}, resource={self.resource}, "
            f"subresource={self.subresource}"
        )


def request_attributes(method: str, path: str, node_name: str) -> Attributes:
    """Kubelet's mapping of an HTTP request to attributes on the node object."""
    subresource = "proxy"
    for prefix, name in _SUBRESOURCE_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            subresource = name
            break
    return Attributes(_VERBS.get(method.upper(), method.lower()), subresource, node_name)


class AuthError(Exception):
    """Authentication or authorization could not be decided (the control plane failed)."""


K = TypeVar("K")
V = TypeVar("V")


class _TtlCache(Generic[K, V]):
    def __init__(self) -> None:
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        if len(self._entries) > 4096:  # drop expired entries before growing further
            now = time.monotonic()
            self._entries = {k: e for k, e in self._entries.items() if e[0] >= now}
        self._entries[key] = (time.monotonic() + ttl, value)


def _user_from_review(status: KubeObject) -> User:
    info = status.get("user") or {}
    groups = list(info.get("groups") or [])
    if AUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    extra = {str(k): tuple(v or ()) for k, v in (info.get("extra") or {}).items()}
    return User(str(info.get("username", "")), tuple(groups), str(info.get("uid", "")), extra)


class Authenticator:
    """Turns a request's certificate or token into a :class:`User` (None: refuse)."""

    def __init__(self, api: ReviewApi | None, *, anonymous: bool) -> None:
        self._api = api
        self._anonymous = anonymous
        self._tokens: _TtlCache[str, User | None] = _TtlCache()

    async def authenticate(
        self, peer_cert: tuple[str, list[str]] | None, authorization: str | None
    ) -> User | None:
        if peer_cert is not None and peer_cert[0]:
            name, orgs = peer_cert
            return User(name, (*orgs, AUTHENTICATED))
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return None
            return await self._review(token)
        if self._anonymous:
            return User(ANONYMOUS, (UNAUTHENTICATED,))
        return None

    async def _review(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        if self._api is None:
            return None
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        try:
            answer = await self._api.request("POST", TOKEN_REVIEW_PATH, body=review)
        except Exception as error:  # an ApiError of any status: cannot tell who this is
            raise AuthError(f"token review failed: {error}") from error
        status = (answer or {}).get("status") or {}
        if not status.get("authenticated"):
            self._tokens.put(key, None, AUTHN_FAILURE_TTL)
            return None
        user = _user_from_review(status)
        self._tokens.put(key, user, AUTHN_TTL)
        return user


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer:
    """Asks the control plane (``SubjectAccessReview``) whether a user may do something."""

    def __init__(self, api: ReviewApi | None) -> None:
        self._api = api
        self._decisions: _TtlCache[tuple[Any, ...], Decision] = _TtlCache()

    async def authorize(self, user: User, attrs: Attributes) -> Decision:
        if self._api is None:
            return Decision(True, "no control plane to ask: AlwaysAllow")
        key = (
            user.name,
            user.uid,
            user.groups,
            tuple(sorted(user.extra.items())),
            attrs.verb,
            attrs.resource,
            attrs.subresource,
            attrs.name,
        )
        cached = self._decisions.get(key)
        if cached is not None:
            return cached
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user.name,
                "uid": user.uid,
                "groups": list(user.groups),
                "extra": {k: list(v) for k, v in user.extra.items()},
                "resourceAttributes": {
                    "namespace": "",
                    "verb": attrs.verb,
                    "group": "",
                    "version": "v1",
                    "resource": attrs.resource,
                    "subresource": attrs.subresource,
                    "name": attrs.name,
                },
            },
        }
        try:
            answer = await self._api.request("POST", ACCESS_REVIEW_PATH, body=review)
        except Exception as error:
            raise AuthError(f"subject access review failed: {error}") from error
        status = (answer or {}).get("status") or {}
        decision = Decision(bool(status.get("allowed")), str(status.get("reason", "")))
        self._decisions.put(key, decision, AUTHZ_ALLOW_TTL if decision.allowed else AUTHZ_DENY_TTL)
        return decision
