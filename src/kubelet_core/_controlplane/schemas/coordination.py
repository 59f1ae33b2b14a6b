"""coordination/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import INT32, MICRO_TIME, STRING, fields
from kubelet_core._controlplane.schemas import meta

PKG = "io.k8s.api.coordination.v1"

LEASE_SPEC = fields(
    go_name="LeaseSpec",
    package=PKG,
    holderIdentity=STRING,
    leaseDurationSeconds=INT32,
    acquireTime=MICRO_TIME,
    renewTime=MICRO_TIME,
    leaseTransitions=INT32,
    strategy=STRING,
    preferredHolder=STRING,
)
LEASE = fields(go_name="Lease", package=PKG, metadata=meta.OBJECT_META, spec=LEASE_SPEC)
