"""Object validation returning field errors the way kube-apiserver words them.

Only the rules clients trip over in practice are checked (names, required pod fields,
pod spec immutability, secret data encoding); each failure is a (field, reason, message)
triple that becomes a 422 Invalid Status with ``causes``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from kubelet_core._controlplane.rbac.validation import rbac_errors
from kubelet_core._controlplane.resources import (
    EVENTS,
    NAMESPACES,
    PODS,
    RBAC_TYPES,
    RUNTIME_CLASSES,
    SECRETS,
    ResourceType,
)
from kubelet_core._controlplane.runtimeclass import runtime_class_errors
from kubelet_core._provider.names import is_label, is_subdomain

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
#: ValidateAnnotations: keys and values together (what kubectl's last-applied hits).
TOTAL_ANNOTATION_SIZE = 256 * 1024


def _name_errors(rt: ResourceType, name: str) -> list[Cause]:
    if rt.path_segment_names:
        if name in (".", "..") or "/" in name or "%" in name:
            return [
                (
                    "metadata.name",
                    INVALID,
                    f"Invalid value: \"{name}\": may not be '.' or '..' and may not "
                    "contain '/' or '%'",
                )
            ]
        return []
    if rt is NAMESPACES:
        if not is_label(name):
            return [
                (
                    "metadata.name",
                    INVALID,
                    f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                    "lower case alphanumeric characters or '-', and must start and end with "
                    "an alphanumeric character",
                )
            ]
        return []
    if not is_subdomain(name):
        return [
            (
                "metadata.name",
                INVALID,
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                "lower case alphanumeric characters, '-' or '.', and must start and end with "
                "an alphanumeric character",
            )
        ]
    return []


def _label_errors(meta: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [("metadata.labels", INVALID, "Invalid value: labels must be a map")]
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1]
        if not name or len(name) > 63 or not _QUALIFIED.match(name):
            causes.append(
                (
                    "metadata.labels",
                    INVALID,
                    f'Invalid value: "{key}": name part must consist of alphanumeric '
                    "characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "metadata.labels",
                    INVALID,
                    f'Invalid value: "{value}": a valid label must be an empty string '
                    "or consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict) or any(
        not isinstance(v, str) for v in annotations.values()
    ):
        causes.append(("metadata.annotations", INVALID, "Invalid value: must be a string map"))
    elif sum(len(k) + len(v) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE:
        causes.append(
            (
                "metadata.annotations",
                TOO_LONG,
                f"Too long: must have at most {TOTAL_ANNOTATION_SIZE} bytes",
            )
        )
    return causes


def _container_errors(path: str, containers: Any, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(containers, list):
        return [(path, INVALID, "Invalid value: must be a list")]
    for i, container in enumerate(containers):
        where = f"{path}[{i}]"
        if not isinstance(container, dict):
            causes.append((where, INVALID, "Invalid value: must be an object"))
            continue
        name = container.get("name")
        if not name:
            causes.append((f"{where}.name", REQUIRED, "Required value"))
        elif not isinstance(name, str) or not is_label(name):
            causes.append(
                (
                    f"{where}.name",
                    INVALID,
                    f'Invalid value: "{name}": a lowercase RFC 1123 label must consist '
                    "of lower case alphanumeric characters or '-'",
                )
            )
        elif name in names:
            causes.append((f"{where}.name", DUPLICATE, f'Duplicate value: "{name}"'))
        else:
            names.add(name)
        if not container.get("image"):
            causes.append((f"{where}.image", REQUIRED, "Required value"))
    return causes


def _pod_errors(obj: KubeObject) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", REQUIRED, "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [("spec.containers", REQUIRED, "Required value")]
    names: set[str] = set()
    causes = _container_errors("spec.containers", containers, names)
    if spec.get("initContainers"):
        causes += _container_errors("spec.initContainers", spec["initContainers"], names)
    policy = spec.get("restartPolicy")
    if policy not in ("Always", "OnFailure", "Never"):
        causes.append(
            (
                "spec.restartPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "Always", "OnFailure", "Never"',
            )
        )
    return causes


def _secret_errors(obj: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            causes.append((f"data[{key}]", INVALID, "Invalid value: illegal base64 data"))
    return causes


def validate(rt: ResourceType, obj: KubeObject) -> list[Cause]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [("metadata", REQUIRED, "Required value")]
    name = meta.get("name")
    if not name:
        return [("metadata.name", REQUIRED, "Required value: name or generateName is required")]
    if not isinstance(name, str):  # only in-process writers skip decoding
        return [("metadata.name", INVALID, f"Invalid value: {name!r}: must be a string")]
    causes = _name_errors(rt, name) + _label_errors(meta)
    if rt is PODS:
        causes += _pod_errors(obj)
    elif rt is SECRETS:
        causes += _secret_errors(obj)
    elif rt is RUNTIME_CLASSES:
        causes += runtime_class_errors(obj)
    elif rt in RBAC_TYPES:
        causes += rbac_errors(rt, obj)
    elif rt is EVENTS:
        involved = obj.get("involvedObject") or {}
        namespace = meta.get("namespace") or ""
        if involved.get("namespace") and involved["namespace"] != namespace:
            causes.append(
                (
                    "involvedObject.namespace",
                    INVALID,
                    f'Invalid value: "{involved["namespace"]}": does not match event.namespace',
                )
            )
    from kubelet_core._controlplane.workloads.validation import workload_errors

    causes += workload_errors(rt, obj)
    return causes


_MUTABLE_POD_SPEC = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _strip_mutable(spec: KubeObject) -> KubeObject:
    spec = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_SPEC}
    for field in ("containers", "initContainers"):
        if isinstance(spec.get(field), list):
            spec[field] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in spec[field]
            ]
    return spec


def validate_pod_update(old: KubeObject, new: KubeObject) -> list[Cause]:
    """Pod specs are immutable except images, deadlines, grace period and tolerations."""
    if _strip_mutable(old.get("spec") or {}) != _strip_mutable(new.get("spec") or {}):
        return [
            (
                "spec",
                FORBIDDEN,
                "Forbidden: pod updates may not change fields other than "
                "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 "
                "if it was previously negative)",
            )
        ]
    return []


def validate_immutable_data(old: KubeObject, new: KubeObject) -> list[Cause]:
    """ConfigMaps and Secrets marked ``immutable: true`` keep their data and the flag."""
    if not old.get("immutable"):
        return []
    causes: list[Cause] = []
    if not new.get("immutable"):
        causes.append(
            ("immutable", FORBIDDEN, "Forbidden: field is immutable when `immutable` is set")
        )
    for field in ("data", "binaryData"):
        if (old.get(field) or {}) != (new.get(field) or {}):
            causes.append(
                (field, FORBIDDEN, "Forbidden: field is immutable when `immutable` is set")
            )
    return causes


def immutable_errors(path: str, old: Any, new: Any) -> list[Cause]:
    """kube's ValidateImmutableField: a changed value is Invalid, shown as JSON."""
    if old == new:
        return []
    shown = json.dumps(new, separators=(",", ":"), sort_keys=True)
    return [(path, INVALID, f"Invalid value: {shown}: field is immutable")]
