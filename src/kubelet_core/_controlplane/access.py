"""Authorization of API requests: who may do what, decided once per request.

The chain is kube-apiserver's ``--authorization-mode=Node,RBAC``; the first decision wins:

1. ``system:masters`` may do anything (kube's privileged-group shortcut, so the admin
   kubeconfig works even before the bootstrap policy exists);
2. a node (``system:node:<name>`` in ``system:nodes``) is decided by the Node authorizer,
   which allows, denies, or leaves the request to the next step;
3. RBAC: the Roles, ClusterRoles and bindings in the store, which start as the bootstrap
   policy (``rbac.bootstrap``: discovery, self-reviews and health for everyone, CSRs for
   bootstrap tokens, renewals for nodes, ``cluster-info`` for anonymous joiners);
4. everything else is refused: a user, service account or token with no binding gets 403.

The control plane's own controllers (scheduler, CSR approver, aggregation, node
lifecycle) call the registry directly and are not subject to this chain; the CSR
approver *asks* it, as kube's csrapproving does with a SubjectAccessReview.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.authn_authz import PRIVILEGED_GROUPS
from kubelet_core._controlplane.node_authorizer import (
    ALLOW,
    DENY,
    NodeAuthorizer,
    node_name,
)
from kubelet_core._controlplane.rbac.authorizer import RbacAuthorizer, RbacLister
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import BY_KEY, RBAC
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
CSRS = "certificatesigningrequests"


def store_rbac_lister(store: Store) -> RbacLister:
    """The RBAC objects of the store, for the RBAC authorizer."""

    def lister(plural: str, namespace: str | None) -> Iterator[KubeObject]:
        for entry in store.entries(BY_KEY[f"{plural}.{RBAC}"], namespace):
            yield entry.obj

    return lister


def spec_request(spec: KubeObject) -> tuple[UserInfo, RequestInfo]:
    """The user and request a SubjectAccessReview spec describes."""
    extra = {k: list(v) for k, v in (spec.get("extra") or {}).items()}
    user = UserInfo(
        str(spec.get("user") or ""),
        tuple(spec.get("groups") or ()),
        extra,
        uid=str(spec.get("uid") or ""),
    )
    if "resourceAttributes" not in spec and "nonResourceAttributes" in spec:
        attrs = spec.get("nonResourceAttributes") or {}
        return user, RequestInfo(str(attrs.get("verb") or ""), str(attrs.get("path") or ""))
    attrs = spec.get("resourceAttributes") or {}
    return user, RequestInfo(
        str(attrs.get("verb") or ""),
        "",
        True,
        str(attrs.get("group") or ""),
        str(attrs.get("version") or ""),
        str(attrs.get("resource") or ""),
        str(attrs.get("subresource") or ""),
        str(attrs.get("namespace") or ""),
        str(attrs.get("name") or ""),
    )


class AccessPolicy:
    def __init__(self, store: Store) -> None:
        self.nodes = NodeAuthorizer(store)
        self.rbac = RbacAuthorizer(store_rbac_lister(store))

    def decide(self, user: UserInfo, info: RequestInfo) -> tuple[bool, str]:
        """``(allowed, reason)``: why it was allowed, or why it was refused (may be empty)."""
        if set(user.groups) & set(PRIVILEGED_GROUPS):
            return True, ""
        node = node_name(user.name, user.groups)
        if node is not None:
            decision, reason = self.nodes.decide(node, info)
            if decision == ALLOW:
                return True, ""
            if decision == DENY:
                return False, reason
        allowed, reason = self.rbac.decide(
            user.name, user.groups, info.attributes(), not info.is_resource
        )
        return allowed, reason if allowed else ""

    def review(self, spec: KubeObject) -> tuple[bool, str]:
        """Answer a SubjectAccessReview spec with the same chain as requests."""
        return self.decide(*spec_request(spec))

    def rules(self, user: UserInfo, namespace: str) -> Iterable[KubeObject]:
        """Every rule RBAC grants ``user`` in ``namespace`` (SelfSubjectRulesReview)."""
        if set(user.groups) & set(PRIVILEGED_GROUPS):
            return [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["*"], "nonResourceURLs": ["*"]},
            ]
        return [rule for _, rule in self.rbac.grants(user.name, user.groups, namespace)]


def forbidden_message(user: UserInfo, info: RequestInfo, reason: str) -> str:
    """kube-apiserver's wording of a refusal."""
    suffix = f": {reason}" if reason else ""
    if not info.is_resource:
        return f'forbidden: User "{user.name}" cannot {info.verb} path "{info.path}"{suffix}'
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    qualified = f"{info.resource}.{info.api_group}" if info.api_group else info.resource
    subject = f'{qualified} "{info.name}"' if info.name else qualified
    where = f' in the namespace "{info.namespace}"' if info.namespace else ""
    scope = "" if info.namespace else " at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.name}" cannot {info.verb} resource "{resource}" '
        f'in API group "{info.api_group}"{where or scope}{suffix}'
    )
