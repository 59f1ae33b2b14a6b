"""Service account tokens for projected volumes, from the TokenRequest API, refreshed early.

Kubelet never hands a pod a long-lived secret token: it asks
``POST /api/v1/namespaces/{ns}/serviceaccounts/{sa}/token`` for a token bound
to the pod (``boundObjectRef``), with the source's ``audience`` and
``expirationSeconds`` (default 3600), and replaces it once 80 % of its
lifetime has passed (or after 24 h), so a reader always finds a valid token.
:class:`TokenManager` caches one token per (pod, service account, audience,
lifetime) and tells the caller when the next refresh is due; tokens are
never logged.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import Any

from kubelet_core._apiclient.objects import name as name_of
from kubelet_core._apiclient.objects import namespace as namespace_of
from kubelet_core._apiclient.objects import uid as uid_of
from kubelet_core._provider.base import KubeObject

DEFAULT_EXPIRATION = 3600
MAX_AGE = 24 * 3600.0
REFRESH_FRACTION = 0.8

TokenKey = tuple[str, str, str, tuple[str, ...], int]  # uid, namespace, sa, audiences, ttl


@dataclasses.dataclass(frozen=True)
class Token:
    token: str
    issued_at: float  # wall clock
    expires_at: float

    def refresh_at(self, fraction: float = REFRESH_FRACTION) -> float:
        lifetime = self.expires_at - self.issued_at
        return min(self.issued_at + lifetime * fraction, self.issued_at + MAX_AGE)


def _parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class TokenManager:
    """Requests and caches bound service account tokens."""

    def __init__(
        self,
        api: Any,
        *,
        fraction: float = REFRESH_FRACTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.fraction = fraction
        self.clock = clock
        self._tokens: dict[TokenKey, Token] = {}

    async def get(self, pod: KubeObject, audiences: tuple[str, ...], expiration: int) -> Token:
        """A valid token for ``pod``'s service account; ApiError if it cannot be had."""
        namespace = namespace_of(pod)
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        key: TokenKey = (uid_of(pod), namespace, account, audiences, expiration)
        cached = self._tokens.get(key)
        now = self.clock()
        if cached is not None and now < cached.refresh_at(self.fraction):
            return cached
        body: KubeObject = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": list(audiences),
                "expirationSeconds": expiration,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": name_of(pod),
                    "uid": uid_of(pod),
                },
            },
        }
        answer = await self.api.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body=body
        )
        status = answer.get("status") or {}
        granted = int((answer.get("spec") or {}).get("expirationSeconds") or expiration)
        expires = _parse_time(str(status["expirationTimestamp"]))
        token = Token(str(status["token"]), expires - granted, expires)
        self._tokens[key] = token
        return token

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[key]
