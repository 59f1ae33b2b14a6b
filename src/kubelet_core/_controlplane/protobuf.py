"""Decoding ``application/vnd.kubernetes.protobuf`` request bodies for the few kinds that
kubectl's typed clients send that way.

kubectl sends JSON for ``apply``/``create -f``/``patch``, but its typed clients (``kubectl
create namespace|configmap|secret|serviceaccount|token``, ``drain``'s evictions, typed
deletes) encode bodies as protobuf without any negotiation, so a server that only read
JSON would fail those commands. Bodies are the ``k8s\\0`` magic followed by a
``runtime.Unknown`` envelope (type meta + raw message). This module is a small wire-format
reader driven by field tables for those kinds (field numbers from k8s.io/api's
generated.proto), producing the same dicts a JSON body would. Responses stay JSON:
clients list ``application/json`` in Accept as a fallback.
"""

from __future__ import annotations

import base64
from typing import Any

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._controlplane import errors

KubeObject = dict[str, Any]
MAGIC = b"k8s\x00"

# field number -> (json name, kind, nested table)
Table = dict[int, tuple[str, str, Any]]

TIME: Table = {1: ("seconds", "int", None), 2: ("nanos", "int", None)}
OWNER_REFERENCE: Table = {
    1: ("kind", "string", None),
    3: ("name", "string", None),
    4: ("uid", "string", None),
    5: ("apiVersion", "string", None),
    6: ("controller", "bool", None),
    7: ("blockOwnerDeletion", "bool", None),
}
OBJECT_META: Table = {
    1: ("name", "string", None),
    2: ("generateName", "string", None),
    3: ("namespace", "string", None),
    4: ("selfLink", "string", None),
    5: ("uid", "string", None),
    6: ("resourceVersion", "string", None),
    7: ("generation", "int_omitempty", None),
    8: ("creationTimestamp", "time", None),
    9: ("deletionTimestamp", "time", None),
    10: ("deletionGracePeriodSeconds", "int", None),
    11: ("labels", "map_string", None),
    12: ("annotations", "map_string", None),
    13: ("ownerReferences", "repeated_message", OWNER_REFERENCE),
    14: ("finalizers", "repeated_string", None),
}
PRECONDITIONS: Table = {1: ("uid", "string", None), 2: ("resourceVersion", "string", None)}
DELETE_OPTIONS: Table = {
    1: ("gracePeriodSeconds", "int", None),
    2: ("preconditions", "message", PRECONDITIONS),
    3: ("orphanDependents", "bool", None),
    4: ("propagationPolicy", "string", None),
    5: ("dryRun", "repeated_string", None),
}
OBJECT_REFERENCE: Table = {
    1: ("kind", "string", None),
    2: ("namespace", "string", None),
    3: ("name", "string", None),
    4: ("uid", "string", None),
    5: ("apiVersion", "string", None),
    6: ("resourceVersion", "string", None),
    7: ("fieldPath", "string", None),
}
CSR_CONDITION: Table = {
    1: ("type", "string", None),
    6: ("status", "string", None),
    2: ("reason", "string", None),
    3: ("message", "string", None),
    4: ("lastUpdateTime", "time", None),
    5: ("lastTransitionTime", "time", None),
}
# rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|...).
POLICY_RULE: Table = {
    1: ("verbs", "repeated_string", None),
    2: ("apiGroups", "repeated_string", None),
    3: ("resources", "repeated_string", None),
    4: ("resourceNames", "repeated_string", None),
    5: ("nonResourceURLs", "repeated_string", None),
}
LABEL_SELECTOR: Table = {
    1: ("matchLabels", "map_string", None),
    2: (
        "matchExpressions",
        "repeated_message",
        {
            1: ("key", "string", None),
            2: ("operator", "string", None),
            3: ("values", "repeated_string", None),
        },
    ),
}
SUBJECT: Table = {
    1: ("kind", "string", None),
    2: ("apiGroup", "string", None),
    3: ("name", "string", None),
    4: ("namespace", "string", None),
}
ROLE_REF: Table = {
    1: ("apiGroup", "string", None),
    2: ("kind", "string", None),
    3: ("name", "string", None),
}
BINDING: Table = {
    1: ("metadata", "message", OBJECT_META),
    2: ("subjects", "repeated_message", SUBJECT),
    3: ("roleRef", "message", ROLE_REF),
}
# authorization.k8s.io/v1 and authentication.k8s.io/v1 reviews (kubectl auth can-i|whoami).
RESOURCE_ATTRIBUTES: Table = {
    1: ("namespace", "string", None),
    2: ("verb", "string", None),
    3: ("group", "string", None),
    4: ("version", "string", None),
    5: ("resource", "string", None),
    6: ("subresource", "string", None),
    7: ("name", "string", None),
}
NON_RESOURCE_ATTRIBUTES: Table = {1: ("path", "string", None), 2: ("verb", "string", None)}
# SelfSubjectAccessReviewSpec has only the attributes; the subject is the caller.
SELF_ACCESS_REVIEW_SPEC: Table = {
    1: ("resourceAttributes", "message", RESOURCE_ATTRIBUTES),
    2: ("nonResourceAttributes", "message", NON_RESOURCE_ATTRIBUTES),
}
ACCESS_REVIEW_SPEC: Table = {
    **SELF_ACCESS_REVIEW_SPEC,
    3: ("user", "string", None),
    4: ("groups", "repeated_string", None),
    6: ("uid", "string", None),
}
KINDS: dict[str, Table] = {
    "Namespace": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", {1: ("finalizers", "repeated_string", None)}),
        3: ("status", "message", {1: ("phase", "string", None)}),
    },
    "ConfigMap": {
        1: ("metadata", "message", OBJECT_META),
        2: ("data", "map_string", None),
        3: ("binaryData", "map_bytes", None),
        4: ("immutable", "bool", None),
    },
    "Secret": {
        1: ("metadata", "message", OBJECT_META),
        2: ("data", "map_bytes", None),
        3: ("type", "string", None),
        4: ("stringData", "map_string", None),
        5: ("immutable", "bool", None),
    },
    "ServiceAccount": {
        1: ("metadata", "message", OBJECT_META),
        2: ("secrets", "repeated_message", OBJECT_REFERENCE),
        3: ("imagePullSecrets", "repeated_message", {1: ("name", "string", None)}),
        4: ("automountServiceAccountToken", "bool", None),
    },
    "Binding": {
        1: ("metadata", "message", OBJECT_META),
        2: ("target", "message", OBJECT_REFERENCE),
    },
    "Eviction": {
        1: ("metadata", "message", OBJECT_META),
        2: ("deleteOptions", "message", DELETE_OPTIONS),
    },
    "DeleteOptions": DELETE_OPTIONS,
    # kubectl certificate approve|deny sends the whole object to /approval.
    "CertificateSigningRequest": {
        1: ("metadata", "message", OBJECT_META),
        2: (
            "spec",
            "message",
            {
                1: ("request", "bytes", None),
                2: ("username", "string", None),
                3: ("uid", "string", None),
                4: ("groups", "repeated_string", None),
                5: ("usages", "repeated_string", None),
                7: ("signerName", "string", None),
                8: ("expirationSeconds", "int", None),
            },
        ),
        3: (
            "status",
            "message",
            {
                1: ("conditions", "repeated_message", CSR_CONDITION),
                2: ("certificate", "bytes", None),
            },
        ),
    },
    "Role": {
        1: ("metadata", "message", OBJECT_META),
        2: ("rules", "repeated_message", POLICY_RULE),
    },
    "ClusterRole": {
        1: ("metadata", "message", OBJECT_META),
        2: ("rules", "repeated_message", POLICY_RULE),
        3: (
            "aggregationRule",
            "message",
            {1: ("clusterRoleSelectors", "repeated_message", LABEL_SELECTOR)},
        ),
    },
    "RoleBinding": BINDING,
    "ClusterRoleBinding": BINDING,
    "SelfSubjectAccessReview": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", SELF_ACCESS_REVIEW_SPEC),
    },
    "LocalSubjectAccessReview": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", ACCESS_REVIEW_SPEC),
    },
    "SubjectAccessReview": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", ACCESS_REVIEW_SPEC),
    },
    "SelfSubjectRulesReview": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", {1: ("namespace", "string", None)}),
    },
    "SelfSubjectReview": {1: ("metadata", "message", OBJECT_META)},
    "TokenRequest": {
        1: ("metadata", "message", OBJECT_META),
        2: (
            "spec",
            "message",
            {
                1: ("audiences", "repeated_string", None),
                3: (
                    "boundObjectRef",
                    "message",
                    {
                        1: ("kind", "string", None),
                        2: ("apiVersion", "string", None),
                        3: ("name", "string", None),
                        4: ("uid", "string", None),
                    },
                ),
                4: ("expirationSeconds", "int", None),
            },
        ),
    },
}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        result = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise ValueError("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def fields(self) -> list[tuple[int, int, Any]]:
        out: list[tuple[int, int, Any]] = []
        while self.pos < len(self.data):
            key = self.varint()
            number, wire = key >> 3, key & 7
            if wire == 0:
                out.append((number, wire, self.varint()))
            elif wire == 2:
                size = self.varint()
                chunk = self.data[self.pos : self.pos + size]
                if len(chunk) != size:
                    raise ValueError("truncated field")
                self.pos += size
                out.append((number, wire, chunk))
            elif wire == 1:
                self.pos += 8
            elif wire == 5:
                self.pos += 4
            else:
                raise ValueError(f"unsupported wire type {wire}")
        return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(raw: bytes) -> str:
    parsed = _message(raw, TIME)
    return rfc3339(int(parsed.get("seconds", 0)))


def _entry(raw: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _wire, item in _Reader(raw).fields():
        if number == 1:
            key = bytes(item).decode()
        elif number == 2:
            value = bytes(item)
    return key, value


def _packed_varints(raw: bytes) -> list[int]:
    reader = _Reader(raw)
    values = []
    while reader.pos < len(raw):
        values.append(reader.varint())
    return values


def _quantity(raw: bytes) -> str:
    """resource.Quantity travels as its canonical string (field 1), as in JSON."""
    return str(_message(raw, {1: ("string", "string", None)}).get("string", ""))


_INT_OR_STRING: Table = {
    1: ("type", "int", None),
    2: ("intVal", "int", None),
    3: ("strVal", "string", None),
}


def _message(raw: bytes, table: Table) -> KubeObject:
    obj: KubeObject = {}
    for number, wire, value in _Reader(raw).fields():
        spec = table.get(number)
        if spec is None:
            continue  # unknown to us: dropped, as the real decoder drops unknown fields
        name, kind, nested = spec
        if kind == "string":
            if value:  # Go writes unset strings as "": JSON would omit them
                obj[name] = bytes(value).decode()
        elif kind == "int":
            obj[name] = _signed(value)
        elif kind == "int_omitempty":  # a non-pointer Go int whose JSON tag is omitempty
            if value:
                obj[name] = _signed(value)
        elif kind == "bytes":
            obj[name] = base64.b64encode(bytes(value)).decode()
        elif kind == "bool":
            obj[name] = bool(value)
        elif kind == "bool_omitempty":  # a non-pointer Go bool whose JSON tag is omitempty
            if value:
                obj[name] = True
        elif kind == "time":
            if value:  # Go's zero time is an empty message (null in JSON)
                obj[name] = _time(value)
        elif kind == "message":
            obj[name] = _message(value, nested)
        elif kind == "inline":  # a Go struct embedded with json:",inline"
            obj.update(_message(value, nested))
        elif kind == "quantity":
            obj[name] = _quantity(value)
        elif kind == "map_quantity":
            key, item = _entry(value)
            obj.setdefault(name, {})[key] = _quantity(item)
        elif kind == "intorstr":
            from kubelet_core._controlplane.workloads.protobuf_tables import int_or_string

            obj[name] = int_or_string(_message(value, _INT_OR_STRING))
        elif kind == "repeated_int":  # proto2 repeated scalars: unpacked, or packed
            values = [value] if wire == 0 else _packed_varints(bytes(value))
            obj.setdefault(name, []).extend(_signed(item) for item in values)
        elif kind == "repeated_string":
            obj.setdefault(name, []).append(bytes(value).decode())
        elif kind == "repeated_message":
            obj.setdefault(name, []).append(_message(value, nested))
        elif kind == "map_string":
            key, item = _entry(value)
            obj.setdefault(name, {})[key] = item.decode()
        elif kind == "map_bytes":
            key, item = _entry(value)
            obj.setdefault(name, {})[key] = base64.b64encode(item).decode()
    return obj


def decode(body: bytes) -> KubeObject:
    """Decode a protobuf request body into the JSON-shaped object."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        api_version = kind = ""
        raw = b""
        for number, _wire, value in _Reader(body[len(MAGIC) :]).fields():
            if number == 1:
                type_meta = _message(
                    value, {1: ("apiVersion", "string", None), 2: ("kind", "string", None)}
                )
                api_version = type_meta.get("apiVersion", "")
                kind = type_meta.get("kind", "")
            elif number == 2:
                raw = bytes(value)
        from kubelet_core._controlplane.services.protobuf_tables import KINDS as SERVICE_KINDS
        from kubelet_core._controlplane.workloads.protobuf_tables import KINDS as WORKLOAD_KINDS

        table = KINDS.get(kind) or WORKLOAD_KINDS.get(kind) or SERVICE_KINDS.get(kind)
        if table is None:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                f"protobuf bodies of kind {kind or '<none>'} are not supported by this control "
                "plane; send application/json",
            )
        obj = _message(raw, table)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc
    result: KubeObject = {"kind": kind, "apiVersion": api_version}
    result.update(obj)
    return result
