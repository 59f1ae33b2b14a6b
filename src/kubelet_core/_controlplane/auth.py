"""Authentication: x509 client certificates signed by the cluster CA.

The TLS layer already rejects certificates not signed by our CA; requests that bring no
certificate at all reach this middleware and get 401, except the public health and
version endpoints (kube-apiserver serves those to anyone). A bearer-token authenticator
(for TokenReview later) can be plugged in through ``token_authenticator``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import errors

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


TokenAuthenticator = Callable[[str], Awaitable[UserInfo | None]]


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


def make_middleware(token_authenticator: TokenAuthenticator | None = None) -> Any:
    @web.middleware
    async def authenticate(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        transport = request.transport
        user = user_from_peercert(transport.get_extra_info("peercert") if transport else None)
        if user is None and token_authenticator is not None:
            header = request.headers.get("Authorization", "")
            if header.lower().startswith("bearer "):
                user = await token_authenticator(header[7:].strip())
        if (
            user is None
            and path.rstrip("/") not in PUBLIC_PATHS
            and not path.startswith(("/healthz/", "/livez/", "/readyz/"))
        ):
            exc = errors.unauthorized()
            return web.Response(body=exc.body(), status=401, content_type="application/json")
        request["user"] = user
        return await handler(request)

    return authenticate
