"""node/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import QUANTITY, STRING, ListOf, MapOf, fields
from kubelet_core._controlplane.schemas import core_pod, meta

PKG = "io.k8s.api.node.v1"

OVERHEAD = fields(go_name="Overhead", package=PKG, podFixed=MapOf(QUANTITY))
SCHEDULING = fields(
    go_name="Scheduling",
    package=PKG,
    nodeSelector=MapOf(STRING),
    tolerations=ListOf(core_pod.TOLERATION, list_type="atomic"),
)
RUNTIME_CLASS = fields(
    go_name="RuntimeClass",
    package=PKG,
    metadata=meta.OBJECT_META,
    handler=STRING,
    overhead=OVERHEAD,
    scheduling=SCHEDULING,
)
