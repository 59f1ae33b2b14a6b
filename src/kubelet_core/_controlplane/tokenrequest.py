"""The TokenRequest API: bound service account tokens (JWT, RS256) for projected volumes.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` with an
``authentication.k8s.io/v1`` TokenRequest answers, as kube-apiserver does, a
signed JWT whose claims are ``iss``, ``sub`` (``system:serviceaccount:ns:name``),
``aud`` (the requested audiences, else the API server's), ``iat``/``nbf``/``exp``,
``jti`` and the private ``kubernetes.io`` claim binding the token to the
namespace, the service account and (with ``boundObjectRef``) the pod and its
node, by name and uid.  A bound pod that does not exist (or has another uid)
is refused, so a token cannot outlive knowledge of its pod.

The signing key is a 2048-bit RSA key kept with the control plane's PKI
(``<data_dir>/pki/sa.key``, 0600, and ``sa.pub``), created on first use and
reused across restarts; ``kid`` is the base64url SHA-256 of the DER public
key, as Kubernetes computes it.  :func:`jwks_handler` publishes the public
key at ``/openid/v1/jwks`` so anyone can verify tokens; :func:`verify_token`
does so in Python.

Wiring (in ``ControlPlane.start``, before the catch-all route)::

    signer = TokenSigner.load_or_create(self.pki.directory)
    app.router.add_post(TOKEN_ROUTE, token_request_handler(objects, signer))
    app.router.add_get(JWKS_ROUTE, jwks_handler(signer))

where ``objects = store_reader(lambda: self.store)`` (already built there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._controlplane import errors
from kubelet_core._controlplane.api import KubeObject, error_response, obj_response
from kubelet_core._controlplane.errors import ApiError

TOKEN_ROUTE = "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
JWKS_ROUTE = "/openid/v1/jwks"
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # kube-apiserver: "may not specify a duration less than 10 minutes"
MAX_EXPIRATION = 1 << 32

ObjectGetter = Callable[[str, str, str], KubeObject | None]
_TOKEN_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token/?$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs service account JWTs with the control plane's RSA key."""

    def __init__(self, key: rsa.RSAPrivateKey, issuer: str = DEFAULT_ISSUER) -> None:
        self.key = key
        self.issuer = issuer
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _b64(hashlib.sha256(der).digest())

    @classmethod
    def load_or_create(cls, pki_dir: Path, issuer: str = DEFAULT_ISSUER) -> TokenSigner:
        key_path, pub_path = pki_dir / "sa.key", pki_dir / "sa.pub"
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} is not an RSA private key")
            signer = cls(loaded, issuer)
        else:
            pki_dir.mkdir(parents=True, exist_ok=True)
            signer = cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), issuer)
            key_path.write_bytes(
                signer.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
        if not pub_path.exists():
            pub_path.write_bytes(signer.public_key_pem())
        return signer

    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: KubeObject) -> str:
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def jwks(self) -> KubeObject:
        numbers = self.key.public_key().public_numbers()

        def uint(value: int) -> str:
            return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "keys": [
                {
                    "use": "sig",
                    "kty": "RSA",
                    "kid": self.kid,
                    "alg": "RS256",
                    "n": uint(numbers.n),
                    "e": uint(numbers.e),
                }
            ]
        }


class InvalidToken(ValueError):
    pass


def verify_token(
    token: str,
    public_key: rsa.RSAPublicKey,
    *,
    audience: str | None = None,
    now: float | None = None,
) -> KubeObject:
    """The claims of a valid token (signature, time window, audience); InvalidToken otherwise."""
    try:
        head, body, signature = token.split(".")
        header = json.loads(_unb64(head))
        claims: KubeObject = json.loads(_unb64(body))
    except ValueError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if header.get("alg") != "RS256":
        raise InvalidToken(f"unexpected algorithm {header.get('alg')!r}")
    try:
        public_key.verify(
            _unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        raise InvalidToken("bad signature") from None
    moment = time.time() if now is None else now
    if moment >= float(claims.get("exp", 0)):
        raise InvalidToken("token has expired")
    if moment + 60 < float(claims.get("nbf", 0)):  # a minute of clock skew, as Kubernetes
        raise InvalidToken("token is not valid yet")
    if audience is not None and audience not in (claims.get("aud") or []):
        raise InvalidToken(f"token is not for audience {audience!r}")
    return claims


def issue(
    signer: TokenSigner,
    get_object: ObjectGetter,
    namespace: str,
    name: str,
    request: Any,
    *,
    default_audiences: Sequence[str] = (DEFAULT_ISSUER,),
    min_expiration: int = MIN_EXPIRATION,
    clock: Callable[[], float] = time.time,
) -> KubeObject:
    """Validate a TokenRequest for service account ``namespace/name`` and answer it."""
    if not isinstance(request, dict):
        raise errors.bad_request("the request body must be a TokenRequest object")
    kind, api_version = request.get("kind"), request.get("apiVersion")
    if kind not in (None, "TokenRequest") or api_version not in (
        None,
        "authentication.k8s.io/v1",
    ):
        raise errors.bad_request(f"expected an authentication.k8s.io/v1 TokenRequest, not {kind}")
    spec = dict(request.get("spec") or {})
    expiration = spec.get("expirationSeconds", DEFAULT_EXPIRATION)
    if not isinstance(expiration, int) or expiration < min_expiration:
        floor = f"{min_expiration // 60} minutes" if min_expiration >= 60 else f"{min_expiration}s"
        message = f"Invalid value: {expiration}: may not specify a duration less than {floor}"
        raise errors.invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            [("spec.expirationSeconds", "FieldValueInvalid", message)],
        )
    expiration = min(expiration, MAX_EXPIRATION)
    account = get_object("serviceaccounts", namespace, name)
    if account is None:
        raise errors.not_found("serviceaccounts", "", name)
    audiences = [str(a) for a in spec.get("audiences") or []] or list(default_audiences)
    bound: KubeObject = {
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": account["metadata"].get("uid", "")},
    }
    ref = spec.get("boundObjectRef")
    if ref:
        ref_kind, ref_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(ref_kind)
        if plural is None:
            raise errors.bad_request(f"cannot bind a token to a {ref_kind or 'missing kind'}")
        target = get_object(plural, "" if plural == "nodes" else namespace, ref_name)
        if target is None:
            raise errors.not_found(plural, "", ref_name)
        uid = str(target["metadata"].get("uid", ""))
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(
                plural,
                "",
                ref_name,
                f"the UID in the bound object reference ({ref['uid']}) does not match the "
                "UID in record. The object might have been deleted and then recreated",
            )
        bound[ref_kind.lower()] = {"name": ref_name, "uid": uid}
        node_name = (target.get("spec") or {}).get("nodeName") if plural == "pods" else None
        if node_name:
            node = get_object("nodes", "", str(node_name))
            if node is not None:
                bound["node"] = {"name": node_name, "uid": node["metadata"].get("uid", "")}
    issued = int(clock())
    expires = issued + expiration
    claims: KubeObject = {
        "aud": audiences,
        "exp": expires,
        "iat": issued,
        "iss": signer.issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": bound,
        "nbf": issued,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    spec["audiences"] = audiences
    spec["expirationSeconds"] = expiration
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(issued)},
        "spec": spec,
        "status": {"token": signer.sign(claims), "expirationTimestamp": rfc3339(expires)},
    }


def token_request_handler(
    get_object: ObjectGetter,
    signer: TokenSigner,
    *,
    min_expiration: int = MIN_EXPIRATION,
    clock: Callable[[], float] = time.time,
) -> Handler:
    """The aiohttp handler of :data:`TOKEN_ROUTE` (POST)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            namespace, name = token_target(request)
            try:
                body = await request.json()
            except ValueError:
                raise errors.bad_request("the request body is not valid JSON") from None
            answer = issue(
                signer,
                get_object,
                namespace,
                name,
                body,
                min_expiration=min_expiration,
                clock=clock,
            )
        except ApiError as exc:
            return error_response(exc)
        return obj_response(answer, 201)

    return handle


def token_target(request: web.Request) -> tuple[str, str]:
    """(namespace, service account) from the route, or from the path (catch-all routes)."""
    if "namespace" in request.match_info and "name" in request.match_info:
        return request.match_info["namespace"], request.match_info["name"]
    match = _TOKEN_PATH.match(request.path)
    if match is None:
        raise errors.not_found_path()
    return match.group(1), match.group(2)


def is_token_request(request: web.Request) -> bool:
    return request.method == "POST" and _TOKEN_PATH.match(request.path) is not None


def jwks_handler(signer: TokenSigner) -> Handler:
    """The aiohttp handler of :data:`JWKS_ROUTE` (GET): the public signing key as a JWK set."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.json_response(signer.jwks(), content_type="application/jwk-set+json")

    return handle
