"""The bootstrap policy: the roles and bindings every cluster starts with, reconciled at start.

kube-apiserver's RBAC post-start hook creates its default ClusterRoles and
ClusterRoleBindings (``plugin/pkg/auth/authorizer/rbac/bootstrappolicy``), each
annotated ``rbac.authorization.kubernetes.io/autoupdate: "true"``, and at every start
adds back what is missing (rules, subjects) unless that annotation was set to
``"false"``. Extra rules or subjects an admin added stay. ``admin``, ``edit`` and
``view`` carry only aggregation rules; their permissions come from the
``system:aggregate-to-*`` roles (and each other) through the aggregation controller.

``wasmlet up`` is kubeadm-like, so the bindings kubeadm makes at ``init`` are made too
(:data:`KUBEADM_CLUSTER_ROLE_BINDINGS`, :data:`KUBEADM_ROLES`): bootstrap tokens may
create CSRs and have node client CSRs auto-approved, nodes have their renewals
auto-approved, and anonymous joiners may read ``kube-public/cluster-info``. They have
no autoupdate annotation (kubeadm sets none) and are only created when missing.

Resources this control plane does not serve (yet) are in the rules anyway, as in kube:
a rule about deployments is harmless until deployments are served.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.node_authorizer import NODE_RULES
from kubelet_core._controlplane.rbac.rules import uncovered
from kubelet_core._controlplane.registry import DeleteOptions, Registry
from kubelet_core._controlplane.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    RBAC,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)

KubeObject = dict[str, Any]
log = logging.getLogger(__name__)

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
CSRS = "certificatesigningrequests"
READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")


def rule(groups: str | tuple[str, ...], resources: tuple[str, ...], *verbs: str) -> KubeObject:
    groups = (groups,) if isinstance(groups, str) else groups
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def urls(*paths: str, verbs: tuple[str, ...] = ("get",)) -> KubeObject:
    return {"nonResourceURLs": list(paths), "verbs": list(verbs)}


def cluster_role(
    name: str,
    *rules: KubeObject,
    aggregate_to: str = "",
    aggregated_from: str = "",
) -> KubeObject:
    meta: KubeObject = {"name": name, "annotations": {AUTOUPDATE: "true"}}
    meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    if aggregate_to:
        meta["labels"][AGGREGATE_TO + aggregate_to] = "true"
    role: KubeObject = {"metadata": meta, "rules": list(rules)}
    if aggregated_from:
        selector = {"matchLabels": {AGGREGATE_TO + aggregated_from: "true"}}
        role["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    return role


def binding(
    name: str, role: str, *subjects: tuple[str, str], kind: str = "ClusterRole"
) -> KubeObject:
    """A (Cluster)RoleBinding; subjects are ``(kind, name)`` (User, Group)."""
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        "subjects": [{"apiGroup": RBAC, "kind": k, "name": n} for k, n in subjects],
    }


_POD_ACCESS = ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy")
_EDITABLE_CORE = (
    "pods",
    "pods/attach",
    "pods/exec",
    "pods/portforward",
    "pods/proxy",
    "configmaps",
    "endpoints",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "replicationcontrollers/scale",
    "secrets",
    "serviceaccounts",
    "services",
    "services/proxy",
)
_VIEWABLE_CORE = (
    "pods",
    "pods/log",
    "pods/status",
    "configmaps",
    "endpoints",
    "persistentvolumeclaims",
    "persistentvolumeclaims/status",
    "replicationcontrollers",
    "replicationcontrollers/scale",
    "replicationcontrollers/status",
    "serviceaccounts",
    "services",
    "services/status",
    "bindings",
    "events",
    "limitranges",
    "resourcequotas",
    "resourcequotas/status",
    "namespaces",
    "namespaces/status",
)
_APPS = (
    "controllerrevisions",
    "daemonsets",
    "daemonsets/status",
    "deployments",
    "deployments/scale",
    "deployments/status",
    "replicasets",
    "replicasets/scale",
    "replicasets/status",
    "statefulsets",
    "statefulsets/scale",
    "statefulsets/status",
)
_BATCH = ("cronjobs", "cronjobs/status", "jobs", "jobs/status")
_WRITABLE_APPS = tuple(r for r in _APPS if not r.endswith("/status") and r != "controllerrevisions")
_WRITABLE_BATCH = ("cronjobs", "jobs")

#: kube-apiserver's default ClusterRoles (those this control plane has use for).
CLUSTER_ROLES: tuple[KubeObject, ...] = (
    cluster_role("cluster-admin", rule("*", ("*",), "*"), urls("*", verbs=("*",))),
    cluster_role(
        "system:discovery",
        urls("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz"),
        urls("/openapi", "/openapi/*", "/version", "/version/"),
    ),
    cluster_role(
        "system:basic-user",
        rule(
            "authorization.k8s.io",
            ("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
            "create",
        ),
        rule("authentication.k8s.io", ("selfsubjectreviews",), "create"),
    ),
    cluster_role(
        "system:public-info-viewer",
        urls("/healthz", "/livez", "/readyz", "/version", "/version/"),
    ),
    cluster_role(
        "system:service-account-issuer-discovery",
        urls("/.well-known/openid-configuration", "/openid/v1/jwks"),
    ),
    cluster_role("admin", aggregated_from="admin"),
    cluster_role("edit", aggregate_to="admin", aggregated_from="edit"),
    cluster_role("view", aggregate_to="edit", aggregated_from="view"),
    cluster_role(
        "system:aggregate-to-admin",
        rule("authorization.k8s.io", ("localsubjectaccessreviews",), "create"),
        rule(RBAC, ("rolebindings", "roles"), *READ, *WRITE),
        aggregate_to="admin",
    ),
    cluster_role(
        "system:aggregate-to-edit",
        rule("", (*_POD_ACCESS, "secrets", "services/proxy"), *READ),
        rule("", ("serviceaccounts",), "impersonate"),
        rule("", _EDITABLE_CORE, *WRITE),
        rule("", ("serviceaccounts/token",), "create"),
        rule("", ("pods/eviction",), "create"),
        rule("apps", _WRITABLE_APPS, *WRITE),
        rule("autoscaling", ("horizontalpodautoscalers",), *WRITE),
        rule("batch", _WRITABLE_BATCH, *WRITE),
        rule("networking.k8s.io", ("ingresses", "networkpolicies"), *WRITE),
        rule("policy", ("poddisruptionbudgets",), *WRITE),
        rule("coordination.k8s.io", ("leases",), *READ, *WRITE),
        aggregate_to="edit",
    ),
    cluster_role(
        "system:aggregate-to-view",
        rule("", _VIEWABLE_CORE, *READ),
        rule("apps", _APPS, *READ),
        rule("autoscaling", ("horizontalpodautoscalers", "horizontalpodautoscalers/status"), *READ),
        rule("batch", _BATCH, *READ),
        rule("discovery.k8s.io", ("endpointslices",), *READ),
        rule("events.k8s.io", ("events",), *READ),
        rule("networking.k8s.io", ("ingresses", "ingresses/status", "networkpolicies"), *READ),
        rule("policy", ("poddisruptionbudgets", "poddisruptionbudgets/status"), *READ),
        aggregate_to="view",
    ),
    cluster_role("system:node", *NODE_RULES),
    cluster_role("system:node-bootstrapper", rule("certificates.k8s.io", (CSRS,), "create", *READ)),
    cluster_role(
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        rule("certificates.k8s.io", (f"{CSRS}/nodeclient",), "create"),
    ),
    cluster_role(
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        rule("certificates.k8s.io", (f"{CSRS}/selfnodeclient",), "create"),
    ),
    cluster_role(
        "system:auth-delegator",
        rule("authentication.k8s.io", ("tokenreviews",), "create"),
        rule("authorization.k8s.io", ("subjectaccessreviews",), "create"),
    ),
)

AUTHENTICATED = ("Group", "system:authenticated")
UNAUTHENTICATED = ("Group", "system:unauthenticated")
#: kube-apiserver's default ClusterRoleBindings.
CLUSTER_ROLE_BINDINGS: tuple[KubeObject, ...] = tuple(
    {**b, "metadata": {**b["metadata"], "annotations": {AUTOUPDATE: "true"}}}
    for b in (
        binding("cluster-admin", "cluster-admin", ("Group", "system:masters")),
        binding("system:discovery", "system:discovery", AUTHENTICATED),
        binding("system:basic-user", "system:basic-user", AUTHENTICATED),
        binding(
            "system:public-info-viewer", "system:public-info-viewer", AUTHENTICATED, UNAUTHENTICATED
        ),
        binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            ("Group", "system:serviceaccounts"),
        ),
    )
)
#: What ``kubeadm init`` binds for joining nodes.
KUBEADM_CLUSTER_ROLE_BINDINGS: tuple[KubeObject, ...] = (
    binding(
        "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", ("Group", "system:bootstrappers")
    ),
    binding(
        "kubeadm:node-autoapprove-bootstrap",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        ("Group", "system:bootstrappers"),
    ),
    binding(
        "kubeadm:node-autoapprove-certificate-rotation",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        ("Group", "system:nodes"),
    ),
)
CLUSTER_INFO_ROLE = "kubeadm:bootstrap-signer-clusterinfo"
#: ``(namespace, Role, RoleBinding)``: kubeadm's anonymous read of ``cluster-info``.
KUBEADM_ROLES: tuple[tuple[str, KubeObject, KubeObject], ...] = (
    (
        "kube-public",
        {
            "metadata": {"name": CLUSTER_INFO_ROLE},
            "rules": [{**rule("", ("configmaps",), "get"), "resourceNames": ["cluster-info"]}],
        },
        binding(CLUSTER_INFO_ROLE, CLUSTER_INFO_ROLE, ("User", "system:anonymous"), kind="Role"),
    ),
)


def _reconciled_role(current: KubeObject, wanted: KubeObject) -> KubeObject | None:
    """``current`` with what ``wanted`` has and it lacks, or None when nothing lacks."""
    result = dict(current)
    meta = result["metadata"] = dict(current.get("metadata") or {})
    changed = False
    for key in ("labels", "annotations"):
        merged = {**(wanted["metadata"].get(key) or {}), **(meta.get(key) or {})}
        if merged != (meta.get(key) or {}):
            meta[key], changed = merged, True
    if "aggregationRule" in wanted:
        selectors = list((current.get("aggregationRule") or {}).get("clusterRoleSelectors") or ())
        missing = [
            s for s in wanted["aggregationRule"]["clusterRoleSelectors"] if s not in selectors
        ]
        if missing:
            result["aggregationRule"] = {"clusterRoleSelectors": selectors + missing}
            changed = True
    else:
        rules = list(current.get("rules") or ())
        missing_rules = [r for r in wanted.get("rules") or () if uncovered(rules, [r])]
        if missing_rules:
            result["rules"], changed = rules + missing_rules, True
    return result if changed else None


def _reconciled_binding(current: KubeObject, wanted: KubeObject) -> KubeObject | None:
    subjects = list(current.get("subjects") or ())
    missing = [
        s
        for s in wanted["subjects"]
        if not any(s["kind"] == c.get("kind") and s["name"] == c.get("name") for c in subjects)
    ]
    if not missing:
        return None
    return {**current, "subjects": subjects + missing}


async def _ensure(
    registry: Registry, rt: ResourceType, namespace: str, wanted: KubeObject, *, autoupdate: bool
) -> None:
    name = wanted["metadata"]["name"]
    entry = registry.store.get(rt, namespace, name)
    if entry is None:
        await registry.create(rt, namespace, _fresh(wanted))
        return
    current = entry.obj
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if not autoupdate or annotations.get(AUTOUPDATE) == "false":
        return
    if "roleRef" in wanted:
        if current.get("roleRef") != wanted["roleRef"]:  # roleRef is immutable: replace
            log.info("replacing %s %s: its roleRef changed", rt.kind, name)
            await registry.delete(rt, namespace, name, DeleteOptions())
            await registry.create(rt, namespace, _fresh(wanted))
            return
        updated = _reconciled_binding(current, wanted)
    else:
        updated = _reconciled_role(current, wanted)
    if updated is not None:
        await registry.update(rt, namespace, name, updated)


def _fresh(obj: KubeObject) -> KubeObject:
    return copy.deepcopy(obj)  # the registry fills in the body it is given


async def reconcile(registry: Registry) -> None:
    """Create the default policy where missing and add back what autoupdate roles lack."""
    try:
        for role in CLUSTER_ROLES:
            await _ensure(registry, CLUSTERROLES, "", role, autoupdate=True)
        for crb in CLUSTER_ROLE_BINDINGS:
            await _ensure(registry, CLUSTERROLEBINDINGS, "", crb, autoupdate=True)
        for crb in KUBEADM_CLUSTER_ROLE_BINDINGS:
            await _ensure(registry, CLUSTERROLEBINDINGS, "", crb, autoupdate=False)
        for namespace, role, rb in KUBEADM_ROLES:
            await _ensure(registry, ROLES, namespace, role, autoupdate=False)
            await _ensure(registry, ROLEBINDINGS, namespace, rb, autoupdate=False)
    except ApiError as exc:  # pragma: no cover - a bug in the policy above
        raise RuntimeError(f"the bootstrap RBAC policy could not be stored: {exc.message}") from exc
