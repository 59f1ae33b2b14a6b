"""policy/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import (
    INT32,
    INT64,
    INT_OR_STRING,
    STRING,
    TIME,
    ListOf,
    MapOf,
    fields,
)
from kubelet_core._controlplane.schemas import meta

PKG = "io.k8s.api.policy.v1"

POD_DISRUPTION_BUDGET_SPEC = fields(
    go_name="PodDisruptionBudgetSpec",
    package=PKG,
    minAvailable=INT_OR_STRING,
    selector=meta.LABEL_SELECTOR,
    maxUnavailable=INT_OR_STRING,
    unhealthyPodEvictionPolicy=STRING,
)
POD_DISRUPTION_BUDGET_STATUS = fields(
    go_name="PodDisruptionBudgetStatus",
    package=PKG,
    observedGeneration=INT64,
    disruptedPods=MapOf(TIME),
    disruptionsAllowed=INT32,
    currentHealthy=INT32,
    desiredHealthy=INT32,
    expectedPods=INT32,
    conditions=ListOf(
        meta.CONDITION, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
)
POD_DISRUPTION_BUDGET = fields(
    go_name="PodDisruptionBudget",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=POD_DISRUPTION_BUDGET_SPEC,
    status=POD_DISRUPTION_BUDGET_STATUS,
)
