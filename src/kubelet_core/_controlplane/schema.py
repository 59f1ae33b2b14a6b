"""One schema per served type: decoding, pruning, and the OpenAPI documents.

kube-apiserver decodes request bodies into Go structs. A value of the wrong JSON type
(``metadata.name: 123``, ``containers: "notalist"``) or a quantity that does not parse
fails decoding with 400 BadRequest (``Pod in version "v1" cannot be handled as a Pod:
json: cannot unmarshal ...``), before any validation. A field it does not know is never
stored: with ``fieldValidation=Strict`` (what kubectl sends) the request fails with 400
``strict decoding error: unknown field "spec.contianers"``; with ``Warn`` (the default) or
``Ignore`` the field is dropped, with a ``Warning`` header for Warn. A lenient stand-in
that stored anything would let typos and wrong types pass in tests (and crash later
code that trusts the stored types), so the same happens here.

A schema is a ``Struct`` (``fields(...)``: field name -> sub-schema, with the Go type
name for error messages and OpenAPI definitions), ``ListOf(schema)``, ``MapOf(schema)``,
a scalar (``STRING``, ``INT64``, ``INT32``, ``BOOL``, ``NUMBER``, ``BYTES``, ``QUANTITY``,
``INT_OR_STRING``, ``TIME``, ``MICRO_TIME``, ``DURATION``) or ``FREE``, which accepts
anything below it (only what kube leaves open: ``RawExtension``, ``FieldsV1``).

The tables themselves live in ``schemas/`` (one module per API group, laid out as
k8s.io/api declares the types), which registers them all on import; ``api`` and
``openapi`` import it, so every type is registered before the API server starts. Adding a
served type: add its table there and ``register(rt, table)`` it. Decoding, pruning,
``kubectl explain`` and kubectl's client-side validation (``openapi.py`` builds the v2 and
v3 documents from ``SCHEMAS``) then follow; a type without a schema is stored as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubelet_core._controlplane import resources as r
from kubelet_core._controlplane.errors import ApiError

KubeObject = dict[str, Any]


class _Free:
    def __repr__(self) -> str:
        return "FREE"


FREE = _Free()


@dataclass(frozen=True)
class Scalar:
    """A JSON scalar: its OpenAPI type/format and the Go type named in decode errors."""

    type: str
    format: str
    go: str


STRING = Scalar("string", "", "string")
INT64 = Scalar("integer", "int64", "int64")
INT32 = Scalar("integer", "int32", "int32")
BOOL = Scalar("boolean", "", "bool")
#: resource.Quantity: a string (or a number) matching kube's quantity grammar.
QUANTITY = Scalar("string", "quantity", "resource.Quantity")
#: metav1.Time: an RFC 3339 string; MicroTime the same with microseconds.
TIME = Scalar("string", "date-time", "v1.Time")
MICRO_TIME = Scalar("string", "date-time", "v1.MicroTime")
#: metav1.Duration: a Go duration string (``1h30m``).
DURATION = Scalar("string", "", "v1.Duration")
#: intstr.IntOrString: a JSON number or string (``8080``, ``http``, ``25%``).
INT_OR_STRING = Scalar("string", "int-or-string", "intstr.IntOrString")
NUMBER = Scalar("number", "double", "float64")
#: []byte: a base64 string.
BYTES = Scalar("string", "byte", "[]uint8")


@dataclass(frozen=True)
class ListOf:
    """A list; the markers are kube's (``+listType``, ``+listMapKey``, ``+patchMergeKey``...)."""

    item: Any
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    merge_key: str = ""
    strategy: str = ""


@dataclass(frozen=True)
class MapOf:
    value: Any


class Struct(dict[str, Any]):
    """An object's fields; ``go_name``/``package`` name its Go type and OpenAPI definition."""

    go_name: str = ""
    package: str = ""


Schema = Struct
CORE = "io.k8s.api.core.v1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
SCHEMAS: dict[str, Schema] = {}


def fields(*names: str, go_name: str = "", package: str = CORE, **nested: Any) -> Struct:
    """A struct whose ``names`` are FREE and whose keyword fields have the given schemas."""
    schema = Struct(dict.fromkeys(names, FREE))
    schema.update(nested)
    schema.go_name = go_name
    schema.package = package
    return schema


def strings(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, STRING)


def register(rt: r.ResourceType, schema: Struct) -> None:
    """Serve ``rt`` with ``schema`` (metadata included; apiVersion and kind are added)."""
    full = fields(go_name=schema.go_name or rt.kind, package=schema.package or CORE)
    full.update(strings(*TYPE_META))
    full.update(schema)
    full.go_name = schema.go_name or rt.kind
    full.package = definition_package(rt)
    SCHEMAS[rt.key] = full


def definition_package(rt: r.ResourceType) -> str:
    """The OpenAPI definition prefix kube uses: ``io.k8s.api.<group>.<version>``."""
    group = rt.group.split(".", 1)[0] if rt.group else "core"
    return f"io.k8s.api.{group}.{rt.version}"


TYPE_META = ("apiVersion", "kind")


# -- decoding ------------------------------------------------------------------------------
# kube's resource.Quantity grammar (ErrFormatWrong) and the suffixes it knows (ErrSuffix).
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIXES = frozenset(
    {"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
)
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
QUANTITY_FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class DecodeError(Exception):
    """The body does not decode into the Go type (kube: 400 BadRequest)."""


def quantity_error(value: str) -> str | None:
    """kube's ParseQuantity error for ``value``, or None if it parses."""
    match = _QUANTITY.match(value)
    if match is None or match.group(1).count(".") > 1:
        return QUANTITY_FORMAT
    suffix = match.group(2)
    if suffix not in _SUFFIXES and not _EXPONENT.match(suffix):
        return "unable to parse quantity's suffix"
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def go_type(schema: Any) -> str:
    if isinstance(schema, Scalar):
        return schema.go
    if isinstance(schema, ListOf):
        return "[]" + go_type(schema.item)
    if isinstance(schema, MapOf):
        return "map[string]" + go_type(schema.value)
    if isinstance(schema, Struct):
        return f"v1.{schema.go_name}" if schema.go_name else "struct"
    return "interface {}"


def _mismatch(value: Any, schema: Any, owner: str, gopath: str) -> DecodeError:
    shown = _json_type(value)
    if shown == "number" and isinstance(schema, Scalar) and schema.type == "integer":
        shown = f"number {value}"
    return DecodeError(
        f"json: cannot unmarshal {shown} into Go struct field {owner}.{gopath} "
        f"of type {go_type(schema)}"
    )


def _scalar_ok(value: Any, schema: Scalar) -> bool:
    if schema is INT_OR_STRING:
        return isinstance(value, str | int) and not isinstance(value, bool)
    if schema.type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if schema.type == "string":
        return isinstance(value, str)
    if schema.type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)


def _walk(value: Any, schema: Any, path: str, gopath: str, owner: str, unknown: list[str]) -> None:
    """Check ``value``'s types against ``schema`` and prune unknown fields, in place."""
    if schema is FREE or value is None:  # Go decodes null as the zero value
        return
    if schema is QUANTITY:
        if isinstance(value, str):
            error = quantity_error(value)
            if error is not None:
                raise DecodeError(error)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise _mismatch(value, schema, owner, gopath)
        return
    if isinstance(schema, Scalar):
        if not _scalar_ok(value, schema):
            raise _mismatch(value, schema, owner, gopath)
        return
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            raise _mismatch(value, schema, owner, gopath)
        for index, item in enumerate(value):
            _walk(item, schema.item, f"{path}[{index}]", gopath, owner, unknown)
        return
    if isinstance(schema, MapOf):
        if not isinstance(value, dict):
            raise _mismatch(value, schema, owner, gopath)
        for key, item in value.items():
            _walk(item, schema.value, f"{path}[{key}]", gopath, owner, unknown)
        return
    if not isinstance(value, dict):
        raise _mismatch(value, schema, owner, gopath)
    inner = schema.go_name or (gopath.rsplit(".", 1)[-1].capitalize() if gopath else owner)
    for key in list(value):
        sub = schema.get(key)
        where = f"{path}.{key}" if path else key
        if sub is None:
            if not key.startswith("$"):  # patch directives are not fields
                unknown.append(where)
                del value[key]
        else:
            _walk(value[key], sub, where, f"{gopath}.{key}" if gopath else key, inner, unknown)


def decode(rt: r.ResourceType, obj: Any) -> list[str]:
    """Check ``obj`` against ``rt``'s schema and drop unknown fields; return their paths.

    Raises ApiError 400 when a value does not decode into its Go type.
    """
    schema = SCHEMAS.get(rt.key)
    if schema is None or not isinstance(obj, dict):
        return []
    unknown: list[str] = []
    try:
        _walk(obj, schema, "", "", schema.go_name or rt.kind, unknown)
    except DecodeError as exc:
        raise ApiError(
            400,
            "BadRequest",
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {exc}',
        ) from exc
    return unknown


def prune(rt: r.ResourceType, obj: KubeObject) -> list[str]:
    """Drop unknown fields from ``obj`` in place; return their paths (``spec.foo``)."""
    return decode(rt, obj)
