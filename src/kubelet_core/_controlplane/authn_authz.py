"""TokenReview and SubjectAccessReview: the control plane's answers to a kubelet's webhooks.

A kubelet (``kubelet_core._kubeletapi``) asks the control plane who a bearer token
belongs to (``authentication.k8s.io/v1`` TokenReview) and whether a user may do
something to its node (``authorization.k8s.io/v1`` SubjectAccessReview).  This
module answers both, with the real API server's request and response shapes:

* :class:`TokenTable` is the set of bearer tokens the control plane knows, like
  kube-apiserver's ``--token-auth-file`` (and readable from one, ``token,user,uid,"g1,g2"``);
  tests and ``wasmlet up`` add tokens to it directly.
* :class:`Authorizer` decides like kube-apiserver with RBAC
  (:mod:`kubelet_core._controlplane.rbac`): members of a privileged group
  (``system:masters``) may do anything, everyone else needs an RBAC rule.
  Roles and bindings come from a lister callback (no lister: only the
  privileged groups are allowed), so it answers without a store; the control
  plane itself answers with its whole chain (``access.AccessPolicy.review``).

The functions take and return plain JSON dicts; :func:`review_routes` wraps them
as aiohttp handlers for the two POST endpoints.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import auth
from kubelet_core._controlplane.rbac.authorizer import RbacAuthorizer, RbacLister

KubeObject = dict[str, Any]

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
PRIVILEGED_GROUPS = ("system:masters",)
AUTHENTICATED = "system:authenticated"

#: Answers a SubjectAccessReview spec: ``spec -> (allowed, reason)``.
SpecDecider = Callable[[KubeObject], tuple[bool, str]]


@dataclasses.dataclass(frozen=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> KubeObject:
        groups = list(self.groups)
        if AUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
        data: KubeObject = {"username": self.username, "groups": groups}
        if self.uid:
            data["uid"] = self.uid
        if self.extra:
            data["extra"] = {k: list(v) for k, v in self.extra.items()}
        return data


class TokenTable:
    """Bearer tokens the control plane accepts, each naming a user and groups."""

    def __init__(self) -> None:
        self._tokens: dict[str, UserInfo] = {}

    def add(self, token: str, username: str, groups: Iterable[str] = (), uid: str = "") -> None:
        if not token:
            raise ValueError("empty token")
        self._tokens[token] = UserInfo(username, uid or username, tuple(groups))

    def remove(self, token: str) -> None:
        self._tokens.pop(token, None)

    def lookup(self, token: str) -> UserInfo | None:
        return self._tokens.get(token)

    async def authenticate(self, token: str) -> auth.UserInfo | None:
        """A ``ControlPlane(token_authenticator=...)`` hook: the control plane's own users."""
        user = self._tokens.get(token)
        if user is None:
            return None
        groups = user.groups if AUTHENTICATED in user.groups else (*user.groups, AUTHENTICATED)
        return auth.UserInfo(user.username, groups, uid=user.uid)

    @classmethod
    def from_file(cls, path: Path) -> TokenTable:
        """Read kube-apiserver's static token file: ``token,user,uid[,"group1,group2"]``."""
        table = cls()
        for row in csv.reader(io.StringIO(path.read_text())):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}: a row needs at least token,user,uid")
            groups = [g.strip() for g in row[3].split(",") if g.strip()] if len(row) > 3 else []
            table.add(row[0].strip(), row[1].strip(), groups, row[2].strip())
        return table


def _echo(review: KubeObject, kind: str, api_version: str) -> KubeObject:
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": None},
        "spec": dict(review.get("spec") or {}),
    }


def token_review(review: KubeObject, tokens: TokenTable) -> KubeObject:
    """Answer a TokenReview: ``status.authenticated`` and ``status.user`` for known tokens."""
    token = str((review.get("spec") or {}).get("token") or "")
    return _review_answer(review, tokens.lookup(token) if token else None)


async def review_token(review: KubeObject, authenticate: auth.TokenAuthenticator) -> KubeObject:
    """Answer a TokenReview with every authenticator the API itself uses."""
    token = str((review.get("spec") or {}).get("token") or "")
    found = await authenticate(token) if token else None
    user = None
    if found is not None:
        user = UserInfo(
            found.name, found.uid, found.groups, {k: tuple(v) for k, v in found.extra.items()}
        )
    return _review_answer(review, user)


def _review_answer(review: KubeObject, user: UserInfo | None) -> KubeObject:
    answer = _echo(review, "TokenReview", "authentication.k8s.io/v1")
    if user is None:
        answer["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
    else:
        answer["status"] = {"authenticated": True, "user": user.to_json()}
    return answer


class Authorizer:
    """RBAC as kube-apiserver evaluates it, behind a privileged-group shortcut."""

    def __init__(
        self,
        rbac: RbacLister | None = None,
        *,
        privileged_groups: Iterable[str] = PRIVILEGED_GROUPS,
        privileged_users: Iterable[str] = (),
    ) -> None:
        self._rbac = RbacAuthorizer(rbac) if rbac is not None else None
        self._privileged_groups = frozenset(privileged_groups)
        self._privileged_users = frozenset(privileged_users)

    def decide(self, spec: KubeObject) -> tuple[bool, str]:
        """``(allowed, reason)`` for a SubjectAccessReview spec."""
        user = str(spec.get("user") or "")
        groups = tuple(spec.get("groups") or ())
        if user in self._privileged_users or set(groups) & self._privileged_groups:
            return True, ""
        non_resource = "nonResourceAttributes" in spec and "resourceAttributes" not in spec
        attrs = (
            spec.get("nonResourceAttributes") if non_resource else spec.get("resourceAttributes")
        ) or {}
        if self._rbac is None:
            return False, ""
        return self._rbac.decide(user, groups, attrs, non_resource)


def subject_access_review(
    review: KubeObject, authorizer: Authorizer | SpecDecider, kind: str = "SubjectAccessReview"
) -> KubeObject:
    """Answer a (Self/Local)SubjectAccessReview with ``status.allowed`` (and a reason)."""
    answer = _echo(review, kind, "authorization.k8s.io/v1")
    decide = authorizer.decide if isinstance(authorizer, Authorizer) else authorizer
    allowed, reason = decide(answer["spec"])
    status: KubeObject = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    answer["status"] = status
    return answer


def _bad_request(message: str) -> web.Response:
    return web.json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "BadRequest",
            "code": 400,
        },
        status=400,
    )


def review_routes(
    tokens: TokenTable | auth.TokenAuthenticator, authorizer: Authorizer | SpecDecider
) -> list[web.RouteDef]:
    """aiohttp routes for ``POST`` TokenReview and SubjectAccessReview (answers are 201)."""

    async def _body(request: web.Request, kind: str) -> KubeObject | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _bad_request("the request body is not JSON")
        if not isinstance(body, dict) or body.get("kind", kind) != kind:
            return _bad_request(f"the request body must be a {kind}")
        return body

    async def on_token_review(request: web.Request) -> web.Response:
        body = await _body(request, "TokenReview")
        if isinstance(body, web.Response):
            return body
        if isinstance(tokens, TokenTable):
            return web.json_response(token_review(body, tokens), status=201)
        return web.json_response(await review_token(body, tokens), status=201)

    async def on_access_review(request: web.Request) -> web.Response:
        body = await _body(request, "SubjectAccessReview")
        if isinstance(body, web.Response):
            return body
        return web.json_response(subject_access_review(body, authorizer), status=201)

    return [web.post(TOKEN_REVIEWS, on_token_review), web.post(ACCESS_REVIEWS, on_access_review)]
