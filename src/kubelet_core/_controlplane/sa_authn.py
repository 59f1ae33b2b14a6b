"""Authenticating the service account tokens this control plane issued (TokenRequest).

A token is accepted when its signature verifies with the control plane's key, it is in
its time window, it is for one of the API server's audiences, and the objects it is
bound to still exist with the same uid: the service account always, and the pod, secret
or node of ``boundObjectRef``. So a token stops working when its pod or service account
is deleted, as with kube-apiserver. It authenticates as
``system:serviceaccount:<ns>:<name>`` in ``system:serviceaccounts`` and
``system:serviceaccounts:<ns>``, with the pod and node in ``extra``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.tokenrequest import (
    DEFAULT_ISSUER,
    InvalidToken,
    ObjectGetter,
    TokenSigner,
    verify_token,
)

KubeObject = dict[str, Any]
_PLURALS = {"pod": "pods", "secret": "secrets", "node": "nodes"}


class ServiceAccountAuthenticator:
    def __init__(
        self,
        signer: TokenSigner,
        get_object: ObjectGetter,
        audiences: Sequence[str] = (DEFAULT_ISSUER,),
    ) -> None:
        self.signer = signer
        self.get_object = get_object
        self.audiences = tuple(audiences)

    def _alive(self, plural: str, namespace: str, ref: Any) -> bool:
        if not isinstance(ref, dict):
            return False
        found = self.get_object(plural, namespace, str(ref.get("name") or ""))
        return found is not None and found["metadata"].get("uid") == ref.get("uid")

    async def __call__(self, token: str) -> UserInfo | None:
        if token.count(".") != 2:
            return None
        try:
            claims = verify_token(token, self.signer.key.public_key())
        except InvalidToken:
            return None
        if claims.get("iss") != self.signer.issuer:
            return None
        if not set(claims.get("aud") or ()) & set(self.audiences):
            return None
        bound = claims.get("kubernetes.io") or {}
        namespace = str(bound.get("namespace") or "")
        account = bound.get("serviceaccount") or {}
        if not namespace or not self._alive("serviceaccounts", namespace, account):
            return None
        extra: dict[str, list[str]] = {}
        for key, plural in _PLURALS.items():
            if key in bound:
                if not self._alive(plural, "" if key == "node" else namespace, bound[key]):
                    return None
                if key in ("pod", "node"):
                    extra[f"authentication.kubernetes.io/{key}-name"] = [bound[key]["name"]]
                    extra[f"authentication.kubernetes.io/{key}-uid"] = [bound[key]["uid"]]
        if claims.get("jti"):
            extra["authentication.kubernetes.io/credential-id"] = [f"JTI={claims['jti']}"]
        return UserInfo(
            f"system:serviceaccount:{namespace}:{account['name']}",
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
            extra,
            uid=str(account.get("uid") or ""),
        )
