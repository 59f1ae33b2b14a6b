"""The wascc-codec 0.6 messages, as MessagePack struct maps.

waSCC's messages changed shape twice (protobuf, then MessagePack structs as
arrays, then struct maps).  We speak one version only: wascc-codec 0.6, where
every struct is a MessagePack *map* keyed by its camelCase field names
(``rmp_serde`` with ``with_struct_map``) and byte fields are MessagePack
``bin``.  That is what wascc-actor 0.7 actors (wapc-guest 0.3) send and expect.
Unknown fields are ignored and missing ones take their defaults, as serde
does with ``#[serde(default)]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack  # type: ignore[import-untyped]

CODEC_VERSION = "wascc-codec 0.6 (MessagePack struct maps)"

# operations
HANDLE_REQUEST = "HandleRequest"
WRITE_LOG = "WriteLog"


class CodecError(ValueError):
    """A payload is not the message it should be."""


def pack(data: dict[str, Any]) -> bytes:
    return msgpack.packb(data, use_bin_type=True)  # type: ignore[no-any-return]


def unpack_map(payload: bytes) -> dict[str, Any]:
    """Decode a struct map; raises ``CodecError`` on anything else."""
    try:
        data = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as error:
        raise CodecError(f"not MessagePack: {error}") from None
    if not isinstance(data, dict):
        raise CodecError(f"expected a struct map, got {type(data).__name__}")
    return data


def field_str(data: dict[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise CodecError(f"field {name!r} must be a string")
    return value


def field_int(data: dict[str, Any], name: str, default: int = 0) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"field {name!r} must be an integer")
    return value


def field_bytes(data: dict[str, Any], name: str) -> bytes:
    value = data.get(name, b"")
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):  # serde without serde_bytes: a byte array as ints
        return bytes(value)
    if not isinstance(value, bytes):
        raise CodecError(f"field {name!r} must be bytes")
    return value


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query_string: str
    header: dict[str, str]
    body: bytes

    def encode(self) -> bytes:
        return pack(
            {
                "method": self.method,
                "path": self.path,
                "queryString": self.query_string,
                "header": self.header,
                "body": self.body,
            }
        )


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    status_code: int
    status: str = ""
    header: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def decode(cls, payload: bytes) -> HttpResponse:
        data = unpack_map(payload)
        header = data.get("header") or {}
        if not isinstance(header, dict):
            raise CodecError("field 'header' must be a map")
        code = field_int(data, "statusCode", 200)
        if not 100 <= code <= 999:
            raise CodecError(f"status code {code} is out of range")
        return cls(
            status_code=code,
            status=field_str(data, "status"),
            header={str(k): str(v) for k, v in header.items()},
            body=field_bytes(data, "body"),
        )
