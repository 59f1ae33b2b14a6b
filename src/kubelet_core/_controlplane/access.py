"""Authorization of API requests: who may do what, decided once per request.

The chain, first decision wins (kube-apiserver's ``--authorization-mode=Node,RBAC`` with
the default bootstrap policy):

1. ``system:masters`` may do anything;
2. a node (``system:node:<name>`` in ``system:nodes``) is decided by the Node authorizer,
   which allows, denies, or leaves the request to the next step;
3. the default roles every cluster has: health and version for everyone
   (``system:public-info-viewer``), discovery and self-reviews for the authenticated
   (``system:discovery``, ``system:basic-user``), CSRs for bootstrap tokens
   (``system:node-bootstrapper`` and the ``nodeclient`` auto-approval role, as kubeadm
   binds them), renewals for nodes (``selfnodeclient``), and the ``cluster-info``
   ConfigMap in ``kube-public`` for anonymous joiners (kubeadm's bootstrap-signer role);
4. RBAC objects are not served yet, so any other *named* user (static tokens, client
   certificates) keeps full access as before, except approving CSRs, which is for
   ``system:masters``. Nodes, bootstrap tokens, service accounts and anonymous requests
   never get that fallback: what steps 1-3 do not allow is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.authn_authz import PRIVILEGED_GROUPS, rule_allows
from kubelet_core._controlplane.node_authorizer import (
    ALLOW,
    DENY,
    NodeAuthorizer,
    node_name,
)
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
BOOTSTRAPPERS = "system:bootstrappers"
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"
CSRS = "certificatesigningrequests"


def _resources(group: str, resources: Iterable[str], *verbs: str, **extra: Any) -> KubeObject:
    return {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs), **extra}


def _urls(*urls: str) -> KubeObject:
    return {"nonResourceURLs": list(urls), "verbs": ["get"]}


#: (subject kind, subject name, rules): the default policy's bindings.
DEFAULT_BINDINGS: tuple[tuple[str, str, tuple[KubeObject, ...]], ...] = (
    (
        "Group",
        AUTHENTICATED,
        (
            _urls("/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*"),
            _urls("/version", "/version/", "/api", "/api/*", "/apis", "/apis/*"),
            _urls("/openapi", "/openapi/*", "/openid/v1/jwks"),
            _resources("authentication.k8s.io", ("selfsubjectreviews",), "create"),
            _resources(
                "authorization.k8s.io",
                ("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
                "create",
            ),
        ),
    ),
    ("Group", UNAUTHENTICATED, (_urls("/healthz", "/livez", "/readyz", "/version", "/version/"),)),
    (
        "Group",
        BOOTSTRAPPERS,
        (
            _resources("certificates.k8s.io", (CSRS,), "create", "get", "list", "watch"),
            _resources("certificates.k8s.io", (f"{CSRS}/nodeclient",), "create"),
        ),
    ),
    (
        "Group",
        "system:nodes",
        (_resources("certificates.k8s.io", (f"{CSRS}/selfnodeclient",), "create"),),
    ),
    (
        "User",
        ANONYMOUS,
        (_resources("", ("configmaps",), "get", resourceNames=["cluster-info"]),),
    ),
)
_PUBLIC_NAMESPACE_RULES = {ANONYMOUS: "kube-public"}


def _restricted(user: UserInfo) -> bool:
    """Users that get only what the policy grants (no legacy full access)."""
    return (
        user.name == ANONYMOUS
        or user.name.startswith(SERVICEACCOUNT_PREFIX)
        or BOOTSTRAPPERS in user.groups
        or node_name(user.name, user.groups) is not None
    )


class AccessPolicy:
    def __init__(self, store: Store) -> None:
        self.nodes = NodeAuthorizer(store)

    def decide(self, user: UserInfo, info: RequestInfo) -> tuple[bool, str]:
        """``(allowed, reason)``: the reason says why a request was refused."""
        if set(user.groups) & set(PRIVILEGED_GROUPS):
            return True, ""
        node = node_name(user.name, user.groups)
        if node is not None:
            decision, reason = self.nodes.decide(node, info)
            if decision == ALLOW:
                return True, ""
            if decision == DENY:
                return False, reason
        attrs = info.attributes()
        for kind, name, rules in DEFAULT_BINDINGS:
            if (kind == "User" and user.name != name) or (
                kind == "Group" and name not in user.groups
            ):
                continue
            where = _PUBLIC_NAMESPACE_RULES.get(name) if kind == "User" else None
            if where is not None and info.namespace != where:
                continue
            if any(rule_allows(rule, attrs, not info.is_resource) for rule in rules):
                return True, ""
        if info.resource == "signers" and info.verb in ("approve", "sign"):
            return False, ""
        return (not _restricted(user)), ""


def forbidden_message(user: UserInfo, info: RequestInfo, reason: str) -> str:
    """kube-apiserver's wording of a refusal."""
    suffix = f": {reason}" if reason else ""
    if not info.is_resource:
        return f'forbidden: User "{user.name}" cannot {info.verb} path "{info.path}"{suffix}'
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    subject = f'{resource} "{info.name}"' if info.name else resource
    where = f' in the namespace "{info.namespace}"' if info.namespace else ""
    scope = "" if info.namespace else " at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.name}" cannot {info.verb} resource "{resource}" '
        f'in API group "{info.api_group}"{where or scope}{suffix}'
    )
