"""The RBAC authorizer: what Roles and ClusterRoles, through their bindings, allow a user.

A request is allowed when some ClusterRoleBinding (anywhere) or RoleBinding (in the
request's namespace) names the user, one of their groups or their ServiceAccount, and
the role it refers to has a rule that allows the request. A binding whose role does
not exist grants nothing (kube allows such dangling references). Objects come from a
lister callback, so the same authorizer serves the control plane's store and the pure
SubjectAccessReview answers of :mod:`kubelet_core._controlplane.authn_authz`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kubelet_core._controlplane.rbac.rules import rule_allows, subject_matches

KubeObject = dict[str, Any]
#: ``(plural, namespace or None for all) -> objects``; plural is one of clusterroles,
#: clusterrolebindings, roles, rolebindings.
RbacLister = Callable[[str, str | None], Iterable[KubeObject]]


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


class RbacAuthorizer:
    def __init__(self, lister: RbacLister) -> None:
        self._list = lister

    def _role(self, ref: Mapping[str, Any], namespace: str | None) -> KubeObject | None:
        if ref.get("kind") == "ClusterRole":
            plural, where = "clusterroles", None
        elif ref.get("kind") == "Role" and namespace:
            plural, where = "roles", namespace
        else:
            return None
        name = ref.get("name")
        return next((r for r in self._list(plural, where) if _name(r) == name), None)

    def role_rules(self, ref: Mapping[str, Any], namespace: str | None) -> list[KubeObject] | None:
        """The rules of the role a roleRef names (None when it does not exist)."""
        role = self._role(ref, namespace)
        return None if role is None else list(role.get("rules") or ())

    def _bindings(self, namespace: str) -> Iterator[tuple[KubeObject, str | None]]:
        for binding in self._list("clusterrolebindings", None):
            yield binding, None
        if namespace:
            for binding in self._list("rolebindings", namespace):
                yield binding, namespace

    def grants(
        self, user: str, groups: Iterable[str], namespace: str
    ) -> Iterator[tuple[str, KubeObject]]:
        """``(why, rule)`` for every rule the user holds in ``namespace`` ("": cluster-wide)."""
        groups = tuple(groups)
        for binding, where in self._bindings(namespace):
            matching = [
                s
                for s in binding.get("subjects") or ()
                if subject_matches(s, user, groups, where or "")
            ]
            if not matching:
                continue
            ref = binding.get("roleRef") or {}
            subject = matching[0]
            kind, label = "ClusterRoleBinding", _name(binding)
            if where is not None:
                kind, label = "RoleBinding", f"{label}/{where}"
            why = (
                f'RBAC: allowed by {kind} "{label}" of {ref.get("kind")} "{ref.get("name")}" '
                f'to {subject.get("kind")} "{subject.get("name")}"'
            )
            for rule in self.role_rules(ref, where) or ():
                yield why, rule

    def decide(
        self, user: str, groups: Iterable[str], attrs: Mapping[str, Any], non_resource: bool
    ) -> tuple[bool, str]:
        """``(allowed, reason)``: the reason names the binding that allowed the request."""
        namespace = "" if non_resource else str(attrs.get("namespace") or "")
        for why, rule in self.grants(user, groups, namespace):
            if rule_allows(rule, attrs, non_resource):
                return True, why
        return False, ""
