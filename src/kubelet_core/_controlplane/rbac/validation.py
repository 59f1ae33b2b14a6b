"""Field validation of Roles, ClusterRoles and bindings (kube's ``pkg/apis/rbac/validation``)."""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    RBAC,
    ROLES,
    ResourceType,
)

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]
REQUIRED, INVALID, UNSUPPORTED = "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported"
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def _rule_errors(path: str, rule: Any, namespaced: bool) -> list[Cause]:
    if not isinstance(rule, dict):
        return [(path, INVALID, "Invalid value: must be an object")]
    if not rule.get("verbs"):
        return [
            (f"{path}.verbs", REQUIRED, "Required value: verbs must contain at least one value")
        ]
    if rule.get("nonResourceURLs"):
        if namespaced:
            return [
                (
                    f"{path}.nonResourceURLs",
                    INVALID,
                    f"Invalid value: {rule['nonResourceURLs']}: namespaced rules cannot apply "
                    "to non-resource URLs",
                )
            ]
        if rule.get("apiGroups") or rule.get("resources"):
            return [
                (
                    f"{path}.nonResourceURLs",
                    INVALID,
                    f"Invalid value: {rule['nonResourceURLs']}: rules cannot apply to both "
                    "regular resources and non-resource URLs",
                )
            ]
        return []
    if not rule.get("apiGroups"):
        return [
            (
                f"{path}.apiGroups",
                REQUIRED,
                "Required value: resource rules must supply at least one api group",
            )
        ]
    if not rule.get("resources"):
        return [
            (
                f"{path}.resources",
                REQUIRED,
                "Required value: resource rules must supply at least one resource",
            )
        ]
    return []


def _binding_errors(rt: ResourceType, obj: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        return [("roleRef", REQUIRED, "Required value")]
    kinds = ("ClusterRole",) if rt is CLUSTERROLEBINDINGS else ("Role", "ClusterRole")
    if ref.get("apiGroup") != RBAC:
        causes.append(
            (
                "roleRef.apiGroup",
                UNSUPPORTED,
                f'Unsupported value: "{ref.get("apiGroup") or ""}": supported values: "{RBAC}"',
            )
        )
    if ref.get("kind") not in kinds:
        wanted = ", ".join(f'"{k}"' for k in kinds)
        causes.append(
            (
                "roleRef.kind",
                UNSUPPORTED,
                f'Unsupported value: "{ref.get("kind") or ""}": supported values: {wanted}',
            )
        )
    if not ref.get("name"):
        causes.append(("roleRef.name", REQUIRED, "Required value"))
    for i, subject in enumerate(obj.get("subjects") or ()):
        path = f"subjects[{i}]"
        kind = subject.get("kind") if isinstance(subject, dict) else None
        if kind not in SUBJECT_KINDS:
            causes.append(
                (
                    f"{path}.kind",
                    UNSUPPORTED,
                    f'Unsupported value: "{kind or ""}": supported values: '
                    '"ServiceAccount", "User", "Group"',
                )
            )
            continue
        if not subject.get("name"):
            causes.append((f"{path}.name", REQUIRED, "Required value"))
        if kind == "ServiceAccount" and rt is CLUSTERROLEBINDINGS and not subject.get("namespace"):
            causes.append((f"{path}.namespace", REQUIRED, "Required value"))
    return causes


def rbac_errors(rt: ResourceType, obj: KubeObject) -> list[Cause]:
    """Field errors of a Role, ClusterRole, RoleBinding or ClusterRoleBinding."""
    if rt is ROLES or rt is CLUSTERROLES:
        rules = obj.get("rules") or []
        if not isinstance(rules, list):
            return [("rules", INVALID, "Invalid value: must be a list")]
        return [c for i, r in enumerate(rules) for c in _rule_errors(f"rules[{i}]", r, rt is ROLES)]
    return _binding_errors(rt, obj)


def rbac_update_errors(old: KubeObject, new: KubeObject) -> list[Cause]:
    """A binding's roleRef never changes: delete and recreate the binding instead."""
    if "roleRef" in old and old.get("roleRef") != new.get("roleRef"):
        return [("roleRef", INVALID, f"Invalid value: {new.get('roleRef')}: cannot change roleRef")]
    return []
