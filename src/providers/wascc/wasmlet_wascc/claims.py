"""Signed actor claims, as wascap writes them: who built the module and what it may call.

A claims token is a JWT in the module's ``jwt`` custom section, with the header
``{"typ":"jwt","alg":"Ed25519"}`` (not the standard ``EdDSA``, so generic JWT
libraries refuse it), base64url segments without padding and an ed25519
signature over ``header.claims``.  The claims name the issuer (an *account*
key, ``A…``), the subject (the actor's *module* key, ``M…``), the time window
(``iat``, ``nbf``, ``exp``) and, under ``wascap``, the capabilities the actor
may invoke and the uppercase hex SHA-256 of the module without its jwt
sections, which binds the token to the code.

:func:`verify_actor` checks everything a host must check before running an
actor (signature, key roles, hash, time window, issuer allow-list) and raises
:class:`ClaimsError` whose ``reason`` becomes the container's state reason.
(wascc-host 0.14 checked only the time window; we do not copy that.)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from wasmlet_wascc import keys, sections
from wasmlet_wascc.keys import KeyPair, Role

HEADER = {"typ": "jwt", "alg": "Ed25519"}
_NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#: Capability ids of the waSCC standard capabilities (for ``sign --caps`` shorthands).
WELL_KNOWN_CAPABILITIES = {
    "http_server": "wascc:http_server",
    "keyvalue": "wascc:keyvalue",
    "logging": "wascc:logging",
    "messaging": "wascc:messaging",
    "blobstore": "wascc:blobstore",
    "http_client": "wascc:http_client",
    "extras": "wascc:extras",
}


class ClaimsError(Exception):
    """An actor's claims are missing or do not hold; ``reason`` is CamelCase."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class ActorClaims:
    """The decoded claims of one actor."""

    issuer: str
    subject: str
    issued_at: int
    jti: str
    module_hash: str
    expires: int | None = None
    not_before: int | None = None
    name: str | None = None
    capabilities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    rev: int | None = None
    ver: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The claims in wascap's field order, omitting what is unset."""
        wascap: dict[str, Any] = {}
        if self.name is not None:
            wascap["name"] = self.name
        wascap["hash"] = self.module_hash
        if self.tags:
            wascap["tags"] = list(self.tags)
        if self.capabilities:
            wascap["caps"] = list(self.capabilities)
        if self.rev is not None:
            wascap["rev"] = self.rev
        if self.ver is not None:
            wascap["ver"] = self.ver
        wascap["prov"] = False
        data: dict[str, Any] = {}
        if self.expires is not None:
            data["exp"] = self.expires
        data.update(jti=self.jti, iat=self.issued_at, iss=self.issuer, sub=self.subject)
        if self.not_before is not None:
            data["nbf"] = self.not_before
        data["wascap"] = wascap
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActorClaims:
        try:
            wascap = data["wascap"]
            return cls(
                issuer=str(data["iss"]),
                subject=str(data["sub"]),
                issued_at=int(data.get("iat", 0)),
                jti=str(data.get("jti", "")),
                module_hash=str(wascap["hash"]),
                expires=_optional_int(data.get("exp")),
                not_before=_optional_int(data.get("nbf")),
                name=wascap.get("name"),
                capabilities=tuple(str(c) for c in wascap.get("caps") or ()),
                tags=tuple(str(t) for t in wascap.get("tags") or ()),
                rev=_optional_int(wascap.get("rev")),
                ver=wascap.get("ver"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ClaimsError("InvalidActorSignature", f"malformed claims: {error!r}") from None

    def allows(self, capability_id: str) -> bool:
        return capability_id in self.capabilities


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ClaimsError("InvalidActorSignature", f"token is not base64url: {error}") from None


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def module_hash(module: bytes) -> str:
    """wascap's hash: uppercase hex SHA-256 of the module without its jwt sections."""
    stripped = sections.strip_custom_sections(module, sections.JWT_SECTION)
    return hashlib.sha256(stripped).hexdigest().upper()


def new_jti() -> str:
    """A 22-character random id, like the nuids wascap puts in ``jti``."""
    return "".join(secrets.choice(_NUID_ALPHABET) for _ in range(22))


def normalize_capabilities(caps: Iterable[str]) -> tuple[str, ...]:
    """Accept ``keyvalue`` for ``wascc:keyvalue``; keep order, drop duplicates."""
    out: list[str] = []
    for cap in caps:
        cap = cap.strip()
        if not cap:
            continue
        cap = WELL_KNOWN_CAPABILITIES.get(cap, cap)
        if cap not in out:
            out.append(cap)
    return tuple(out)


def sign_actor(
    module: bytes,
    issuer: KeyPair,
    subject: KeyPair,
    *,
    capabilities: Sequence[str] = (),
    name: str | None = None,
    tags: Sequence[str] = (),
    rev: int | None = None,
    ver: str | None = None,
    expires_in_seconds: int | None = None,
    not_before_seconds: int | None = None,
    now: int | None = None,
) -> bytes:
    """The module with (fresh) signed claims; any previous claims are replaced."""
    if issuer.role is not Role.ACCOUNT:
        raise ClaimsError("InvalidActorKeys", "the issuer must be an account key (seed SA...)")
    if subject.role is not Role.MODULE:
        raise ClaimsError("InvalidActorKeys", "the subject must be a module key (seed SM...)")
    sections.sections(module)  # validates the framing before we sign anything
    issued = int(time.time()) if now is None else now
    claims = ActorClaims(
        issuer=issuer.public_key,
        subject=subject.public_key,
        issued_at=issued,
        jti=new_jti(),
        module_hash=module_hash(module),
        expires=None if expires_in_seconds is None else issued + expires_in_seconds,
        not_before=None if not_before_seconds is None else issued + not_before_seconds,
        name=name,
        capabilities=normalize_capabilities(capabilities),
        tags=tuple(tags),
        rev=rev,
        ver=ver,
    )
    return embed_token(module, encode_token(claims, issuer))


def encode_token(claims: ActorClaims, issuer: KeyPair) -> str:
    signing_input = f"{_b64(_json(HEADER))}.{_b64(_json(claims.to_json()))}"
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode()))}"


def embed_token(module: bytes, token: str) -> bytes:
    stripped = sections.strip_custom_sections(module, sections.JWT_SECTION)
    return sections.append_custom_section(stripped, sections.JWT_SECTION, token.encode())


def read_token(module: bytes) -> str:
    """The claims token of a module; ``ActorNotSigned`` if it has none."""
    try:
        payload = sections.custom_section(module, sections.JWT_SECTION)
    except sections.InvalidModule as error:
        raise ClaimsError("InvalidActorModule", str(error)) from None
    if payload is None:
        raise ClaimsError("ActorNotSigned", "the module carries no claims (no jwt section)")
    try:
        return payload.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ClaimsError("InvalidActorSignature", "the jwt section is not text") from None


@dataclasses.dataclass(frozen=True)
class DecodedToken:
    header: dict[str, Any]
    claims: ActorClaims
    signing_input: bytes
    signature: bytes


def decode_token(token: str) -> DecodedToken:
    """Split and decode a token without checking anything but its shape."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ClaimsError(
            "InvalidActorSignature", "the claims token is not header.claims.signature"
        )
    try:
        header = json.loads(_unb64(parts[0]))
        body = json.loads(_unb64(parts[1]))
    except ValueError as error:
        raise ClaimsError("InvalidActorSignature", f"token segment is not JSON: {error}") from None
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise ClaimsError("InvalidActorSignature", "token segments must be JSON objects")
    return DecodedToken(
        header=header,
        claims=ActorClaims.from_json(body),
        signing_input=f"{parts[0]}.{parts[1]}".encode(),
        signature=_unb64(parts[2]),
    )


def read_claims(module: bytes) -> ActorClaims:
    """The module's claims, unverified (for display)."""
    return decode_token(read_token(module)).claims


def verify_actor(
    module: bytes, *, allowed_issuers: Iterable[str] = (), now: float | None = None
) -> ActorClaims:
    """Check an actor's claims as a host must before running it; return them.

    Raises ``ClaimsError`` with reason ``ActorNotSigned``, ``InvalidActorSignature``,
    ``InvalidActorKeys``, ``ActorHashMismatch``, ``ActorClaimsExpired``,
    ``ActorClaimsNotYetValid`` or ``IssuerNotAllowed``.  An empty
    ``allowed_issuers`` accepts any issuer whose signature holds.
    """
    decoded = decode_token(read_token(module))
    claims = decoded.claims
    if decoded.header.get("alg") != HEADER["alg"]:
        raise ClaimsError(
            "InvalidActorSignature", f"unsupported signing algorithm {decoded.header.get('alg')!r}"
        )
    _check_role(claims.issuer, Role.ACCOUNT, "issuer")
    _check_role(claims.subject, Role.MODULE, "subject")
    if not keys.verify(claims.issuer, decoded.signing_input, decoded.signature):
        raise ClaimsError(
            "InvalidActorSignature", f"the claims signature does not verify with {claims.issuer}"
        )
    actual = module_hash(module)
    if actual != claims.module_hash:
        raise ClaimsError(
            "ActorHashMismatch",
            f"the module was changed after signing (hash {actual[:16]}…, "
            f"claims say {claims.module_hash[:16]}…)",
        )
    moment = time.time() if now is None else now
    if claims.expires is not None and moment >= claims.expires:
        raise ClaimsError(
            "ActorClaimsExpired", f"the actor's claims expired at {_iso(claims.expires)}"
        )
    if claims.not_before is not None and moment < claims.not_before:
        raise ClaimsError(
            "ActorClaimsNotYetValid", f"the actor's claims are valid from {_iso(claims.not_before)}"
        )
    allowed = set(allowed_issuers)
    if allowed and claims.issuer not in allowed:
        raise ClaimsError(
            "IssuerNotAllowed", f"issuer {claims.issuer} is not in this node's allowed issuers"
        )
    return claims


def _check_role(public_key: str, role: Role, what: str) -> None:
    try:
        actual = keys.public_key_role(public_key)
    except keys.InvalidKey as error:
        raise ClaimsError(
            "InvalidActorKeys", f"the {what} {public_key!r} is not an nkey: {error}"
        ) from None
    if actual is not role:
        raise ClaimsError(
            "InvalidActorKeys",
            f"the {what} must be {role.name.lower()} key ({role.letter}…), "
            f"not {actual.name.lower()}",
        )


def _iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
