"""Authentication (x509 client certificates, bearer tokens), then authorization.

The TLS layer already rejects certificates not signed by our CA. A request with neither
a certificate nor a token is ``system:anonymous``: it may reach what the authorizer
grants anonymous users (health, version, kubeadm's ``cluster-info``) and gets 401 for
everything else, as does a bearer token no authenticator accepts. An authenticated user
the authorizer refuses gets 403 with kube-apiserver's wording.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import errors
from kubelet_core._controlplane.requestinfo import RequestInfo, request_info

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    uid: str = ""


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
TokenAuthenticator = Callable[[str], Awaitable[UserInfo | None]]
#: ``(user, request info) -> (allowed, message when refused)``.
Authorize = Callable[[UserInfo, RequestInfo], tuple[bool, str]]
#: ``(authenticated user, request headers) -> the user to serve as`` (raises ApiError).
Impersonate = Callable[[UserInfo, Any], UserInfo]


def user_from_peercert(peercert: dict[str, Any] | None) -> UserInfo | None:
    if not peercert:
        return None
    common_name = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name = value
            elif key == "organizationName":
                groups.append(value)
    return UserInfo(common_name, (*groups, "system:authenticated")) if common_name else None


def make_middleware(
    token_authenticator: TokenAuthenticator | None = None,
    authorize: Authorize | None = None,
    impersonate: Impersonate | None = None,
) -> Any:
    @web.middleware
    async def authenticate(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        transport = request.transport
        user = user_from_peercert(transport.get_extra_info("peercert") if transport else None)
        header = request.headers.get("Authorization", "")
        if user is None and header.lower().startswith("bearer "):
            if token_authenticator is not None:
                user = await token_authenticator(header[7:].strip())
            if user is None:
                return _status(errors.unauthorized())
        if user is not None and impersonate is not None:
            try:
                user = impersonate(user, request.headers)
            except errors.ApiError as exc:
                return _status(exc)
        public = path.rstrip("/") in PUBLIC_PATHS or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        )
        if authorize is not None:
            info = request_info(request.method, path, request.query)
            allowed, message = authorize(user or ANONYMOUS, info)
            if not allowed and user is None and not public:
                return _status(errors.unauthorized())
            if not allowed and user is not None:
                return _status(errors.ApiError(403, "Forbidden", message, _details(info)))
            request["user"] = user or ANONYMOUS
            request["request_info"] = info
            return await handler(request)
        if user is None and not public:
            return _status(errors.unauthorized())
        request["user"] = user
        return await handler(request)

    return authenticate


def _status(exc: errors.ApiError) -> web.Response:
    return web.Response(body=exc.body(), status=exc.code, content_type="application/json")


def _details(info: RequestInfo) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": info.resource} if info.is_resource else {}
    if info.name:
        details["name"] = info.name
    if info.api_group:
        details["group"] = info.api_group
    return details
