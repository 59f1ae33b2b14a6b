"""rbac/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import STRING, ListOf, fields
from kubelet_core._controlplane.schemas import meta

PKG = "io.k8s.api.rbac.v1"

POLICY_RULE = fields(
    go_name="PolicyRule",
    package=PKG,
    verbs=ListOf(STRING, list_type="atomic"),
    apiGroups=ListOf(STRING, list_type="atomic"),
    resources=ListOf(STRING, list_type="atomic"),
    resourceNames=ListOf(STRING, list_type="atomic"),
    nonResourceURLs=ListOf(STRING, list_type="atomic"),
)
ROLE = fields(
    go_name="Role",
    package=PKG,
    metadata=meta.OBJECT_META,
    rules=ListOf(POLICY_RULE, list_type="atomic"),
)
AGGREGATION_RULE = fields(
    go_name="AggregationRule",
    package=PKG,
    clusterRoleSelectors=ListOf(meta.LABEL_SELECTOR, list_type="atomic"),
)
CLUSTER_ROLE = fields(
    go_name="ClusterRole",
    package=PKG,
    metadata=meta.OBJECT_META,
    rules=ListOf(POLICY_RULE, list_type="atomic"),
    aggregationRule=AGGREGATION_RULE,
)
SUBJECT = fields(
    go_name="Subject", package=PKG, kind=STRING, apiGroup=STRING, name=STRING, namespace=STRING
)
ROLE_REF = fields(go_name="RoleRef", package=PKG, apiGroup=STRING, kind=STRING, name=STRING)
ROLE_BINDING = fields(
    go_name="RoleBinding",
    package=PKG,
    metadata=meta.OBJECT_META,
    subjects=ListOf(SUBJECT, list_type="atomic"),
    roleRef=ROLE_REF,
)
CLUSTER_ROLE_BINDING = fields(
    go_name="ClusterRoleBinding",
    package=PKG,
    metadata=meta.OBJECT_META,
    subjects=ListOf(SUBJECT, list_type="atomic"),
    roleRef=ROLE_REF,
)
