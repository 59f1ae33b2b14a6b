"""certificates/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import BYTES, INT32, STRING, TIME, ListOf, MapOf, fields
from kubelet_core._controlplane.schemas import meta

PKG = "io.k8s.api.certificates.v1"

CERTIFICATE_SIGNING_REQUEST_SPEC = fields(
    go_name="CertificateSigningRequestSpec",
    package=PKG,
    request=BYTES,
    signerName=STRING,
    expirationSeconds=INT32,
    usages=ListOf(STRING, list_type="atomic"),
    username=STRING,
    uid=STRING,
    groups=ListOf(STRING, list_type="atomic"),
    extra=MapOf(ListOf(STRING)),
)
CERTIFICATE_SIGNING_REQUEST_CONDITION = fields(
    go_name="CertificateSigningRequestCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    reason=STRING,
    message=STRING,
    lastUpdateTime=TIME,
    lastTransitionTime=TIME,
)
CERTIFICATE_SIGNING_REQUEST_STATUS = fields(
    go_name="CertificateSigningRequestStatus",
    package=PKG,
    conditions=ListOf(CERTIFICATE_SIGNING_REQUEST_CONDITION, list_type="map", map_keys=("type",)),
    certificate=BYTES,
)
CERTIFICATE_SIGNING_REQUEST = fields(
    go_name="CertificateSigningRequest",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=CERTIFICATE_SIGNING_REQUEST_SPEC,
    status=CERTIFICATE_SIGNING_REQUEST_STATUS,
)
