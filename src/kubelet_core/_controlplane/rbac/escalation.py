"""Escalation prevention: nobody grants through RBAC what they could not do themself.

As kube's RBAC storage does (``pkg/registry/rbac``):

* creating or updating a Role or ClusterRole is allowed when the user holds every
  permission in it (in the Role's namespace, or cluster-wide), or may ``escalate``
  roles/clusterroles;
* creating or updating a RoleBinding or ClusterRoleBinding is allowed when the user may
  ``bind`` the referenced role, or holds every permission in it.

``system:masters`` is never refused (it holds everything). The check runs on the object
as it will be stored, so patches (``kubectl apply``, ``kubectl edit``) are checked too.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.access import AccessPolicy
from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.authn_authz import PRIVILEGED_GROUPS
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.rbac.rules import uncovered
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import RBAC

KubeObject = dict[str, Any]
_ROLE_OF = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDINGS = ("rolebindings", "clusterrolebindings")


class EscalationCheck:
    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy

    def __call__(self, user: UserInfo | None, info: RequestInfo | None, obj: Any) -> None:
        """Raise 403 when ``user`` would grant more than they hold by writing ``obj``."""
        if user is None or info is None or not isinstance(obj, dict):
            return
        if info.api_group != RBAC or info.verb not in ("create", "update", "patch"):
            return
        if set(user.groups) & set(PRIVILEGED_GROUPS):
            return
        if info.resource in _ROLE_OF:
            self._check_role(user, info, obj)
        elif info.resource in _BINDINGS:
            self._check_binding(user, info, obj)

    def _allowed(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        asked = RequestInfo(verb, "", True, RBAC, "v1", resource, "", namespace, name)
        return self.policy.decide(user, asked)[0]

    def _check_role(self, user: UserInfo, info: RequestInfo, role: KubeObject) -> None:
        name = str((role.get("metadata") or {}).get("name") or info.name)
        if self._allowed(user, "escalate", info.resource, info.namespace, name):
            return
        held = self.policy.rules(user, info.namespace)
        missing = uncovered(held, role.get("rules") or ())
        if missing:
            raise _not_held(info, name, user, missing)

    def _check_binding(self, user: UserInfo, info: RequestInfo, binding: KubeObject) -> None:
        name = str((binding.get("metadata") or {}).get("name") or info.name)
        ref = binding.get("roleRef") or {}
        plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        role_name = str(ref.get("name") or "")
        if self._allowed(user, "bind", plural, info.namespace, role_name):
            return
        namespace = info.namespace or None
        rules = self.policy.rbac.role_rules(ref, namespace)
        if rules is None:
            raise _forbidden(info, name, f'{plural}.{RBAC} "{role_name}" not found')
        missing = uncovered(self.policy.rules(user, info.namespace), rules)
        if missing:
            raise _not_held(info, name, user, missing)


def _quoted(values: list[str]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _describe(rules: list[KubeObject]) -> str:
    """kube's wording: ``{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}``, one a line."""
    fields = (
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("ResourceNames", "resourceNames"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("Verbs", "verbs"),
    )
    return "\n".join(
        "{"
        + ", ".join(f"{label}:{_quoted(rule[key])}" for label, key in fields if key in rule)
        + "}"
        for rule in rules
    )


def _not_held(info: RequestInfo, name: str, user: UserInfo, missing: list[KubeObject]) -> ApiError:
    return _forbidden(
        info,
        name,
        f'user "{user.name}" (groups={_quoted(list(user.groups))}) is attempting to grant '
        f"RBAC permissions not currently held:\n{_describe(missing)}",
    )


def _forbidden(info: RequestInfo, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{info.resource}.{RBAC} "{name}" is forbidden: {why}',
        {"name": name, "group": RBAC, "kind": info.resource},
    )
