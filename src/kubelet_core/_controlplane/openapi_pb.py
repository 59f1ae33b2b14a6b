"""OpenAPI v2 as protobuf (gnostic's ``openapi_v2.Document``), the form kubectl asks for.

kubectl fetches ``/openapi/v2`` only with ``Accept: application/com.github.proto-openapi.
spec.v2@v1.0+protobuf`` (client-go's ``OpenAPISchema``) and parses the answer as that
message; it does so for client-side validation of what the v3 documents cannot vouch
for, notably ``kind: List``. Only what kubectl's models read is encoded: the document's
version and info, and the definitions (schemas with ``$ref``, type, format, items,
properties, additionalProperties and vendor extensions, whose values gnostic carries as
YAML: JSON is valid YAML). Field numbers are gnostic's openapiv2.proto.
"""

from __future__ import annotations

import json
from typing import Any

KubeObject = dict[str, Any]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _bool(field: int, value: bool) -> bytes:
    return _varint(field << 3) + _varint(1 if value else 0)


def _named_any(name: str, value: Any) -> bytes:
    any_msg = _str(2, json.dumps(value) + "\n")  # Any.yaml
    return _str(1, name) + _bytes(2, any_msg)


def _schema(schema: KubeObject) -> bytes:
    out = bytearray()
    if "$ref" in schema:
        out += _str(1, schema["$ref"])
    if schema.get("format"):
        out += _str(2, schema["format"])
    if schema.get("description"):
        out += _str(4, schema["description"])
    for name in schema.get("required") or ():
        out += _str(19, name)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, _schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _bool(2, extra))
    if schema.get("type"):
        out += _bytes(22, _str(1, schema["type"]))
    if isinstance(schema.get("items"), dict):
        out += _bytes(23, _bytes(1, _schema(schema["items"])))
    properties = schema.get("properties")
    if properties:
        props = b"".join(
            _bytes(1, _str(1, name) + _bytes(2, _schema(sub))) for name, sub in properties.items()
        )
        out += _bytes(25, props)
    for key, value in schema.items():
        if key.startswith("x-"):
            out += _bytes(31, _named_any(key, value))
    return bytes(out)


def encode_document(doc: KubeObject) -> bytes:
    """A Swagger 2.0 document (as JSON dicts) in gnostic's protobuf encoding."""
    info = doc.get("info") or {}
    out = bytearray(_str(1, doc.get("swagger", "2.0")))
    out += _bytes(2, _str(1, info.get("title", "")) + _str(2, info.get("version", "")))
    out += _bytes(8, b"")  # Paths: kubectl's models read only the definitions
    definitions = b"".join(
        _bytes(1, _str(1, name) + _bytes(2, _schema(schema)))
        for name, schema in (doc.get("definitions") or {}).items()
    )
    out += _bytes(9, definitions)
    return bytes(out)
