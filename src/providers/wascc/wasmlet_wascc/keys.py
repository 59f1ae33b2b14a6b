"""NATS nkeys for waSCC: ed25519 keys written as role-tagged base32 strings.

wascap names actors by their *module* key (``M…``) and signs them with an
*account* key (``A…``); seeds start with ``S`` followed by the role letter
(``SA…``, ``SM…``).  PyPI's ``nkeys`` knows accounts but not modules and cannot
verify from a public-key string, so this is a small codec of our own on
PyNaCl that reuses only ``nkeys.crc16`` for the checksum.

Layout (all base32, RFC 4648 alphabet, no padding):
public key = role byte + 32-byte key + crc16 (little endian);
seed = two bytes packing ``S`` and the role + 32-byte ed25519 seed + crc16.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum

import nacl.exceptions
import nacl.signing
from nkeys import crc16  # type: ignore[import-untyped]

_SEED_PREFIX = 18 << 3  # "S"


class Role(enum.Enum):
    """The nkeys roles; the value is the prefix byte (the letter's base32 value << 3)."""

    ACCOUNT = 0  # A
    CLUSTER = 2 << 3  # C
    MODULE = 12 << 3  # M
    SERVER = 13 << 3  # N
    OPERATOR = 14 << 3  # O
    USER = 20 << 3  # U

    @property
    def letter(self) -> str:
        return base64.b32encode(bytes([self.value]))[0:1].decode()


class InvalidKey(ValueError):
    """A string is not a valid nkey (bad base32, checksum or role)."""


def _b32decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except (binascii.Error, ValueError) as error:
        raise InvalidKey(f"not base32: {error}") from None


def _b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _checked(raw: bytes) -> bytes:
    checksum: int = crc16(bytearray(raw))
    return raw + checksum.to_bytes(2, "little")


def _unchecked(text: str) -> bytes:
    raw = _b32decode(text.strip())
    if len(raw) < 3:
        raise InvalidKey("too short to be an nkey")
    body, checksum = raw[:-2], int.from_bytes(raw[-2:], "little")
    if crc16(bytearray(body)) != checksum:
        raise InvalidKey("checksum mismatch")
    return body


def public_key_role(public_key: str) -> Role:
    """The role of a public key string; raises ``InvalidKey`` if it is not one."""
    body = _unchecked(public_key)
    if len(body) != 33:
        raise InvalidKey("a public nkey holds 32 bytes")
    try:
        return Role(body[0])
    except ValueError:
        raise InvalidKey(f"unknown role prefix in {public_key[:1]!r}") from None


def verify(public_key: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is an ed25519 signature of ``message`` by ``public_key``."""
    public_key_role(public_key)
    raw = _unchecked(public_key)[1:]
    try:
        nacl.signing.VerifyKey(raw).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair with a role; ``seed`` is the secret string (``S…``)."""

    role: Role
    signing_key: nacl.signing.SigningKey

    @classmethod
    def generate(cls, role: Role) -> KeyPair:
        return cls(role, nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: str) -> KeyPair:
        body = _unchecked(seed)
        if len(body) != 34:
            raise InvalidKey("a seed holds 32 bytes")
        if body[0] & 0xF8 != _SEED_PREFIX:
            raise InvalidKey("not a seed (seeds start with S)")
        prefix = ((body[0] & 0x07) << 5) | ((body[1] & 0xF8) >> 3)
        try:
            role = Role(prefix)
        except ValueError:
            raise InvalidKey(f"unknown role in seed {seed[:2]!r}") from None
        return cls(role, nacl.signing.SigningKey(body[2:]))

    @property
    def seed(self) -> str:
        prefix = self.role.value
        head = bytes([_SEED_PREFIX | (prefix >> 5), (prefix & 0x1F) << 3])
        return _b32encode(_checked(head + bytes(self.signing_key)))

    @property
    def public_key(self) -> str:
        raw = bytes([self.role.value]) + bytes(self.signing_key.verify_key)
        return _b32encode(_checked(raw))

    def sign(self, message: bytes) -> bytes:
        return bytes(self.signing_key.sign(message).signature)
