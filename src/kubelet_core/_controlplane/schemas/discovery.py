"""discovery/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import BOOL, INT32, STRING, ListOf, MapOf, fields
from kubelet_core._controlplane.schemas import core, meta

PKG = "io.k8s.api.discovery.v1"

ENDPOINT_CONDITIONS = fields(
    go_name="EndpointConditions", package=PKG, ready=BOOL, serving=BOOL, terminating=BOOL
)
FOR_ZONE = fields(go_name="ForZone", package=PKG, name=STRING)
FOR_NODE = fields(go_name="ForNode", package=PKG, name=STRING)
ENDPOINT_HINTS = fields(
    go_name="EndpointHints",
    package=PKG,
    forZones=ListOf(FOR_ZONE, list_type="atomic"),
    forNodes=ListOf(FOR_NODE, list_type="atomic"),
)
ENDPOINT = fields(
    go_name="Endpoint",
    package=PKG,
    addresses=ListOf(STRING, list_type="set"),
    conditions=ENDPOINT_CONDITIONS,
    hostname=STRING,
    targetRef=core.OBJECT_REFERENCE,
    deprecatedTopology=MapOf(STRING),
    nodeName=STRING,
    zone=STRING,
    hints=ENDPOINT_HINTS,
)
ENDPOINT_PORT = fields(
    go_name="EndpointPort",
    package=PKG,
    name=STRING,
    protocol=STRING,
    port=INT32,
    appProtocol=STRING,
)
ENDPOINT_SLICE = fields(
    go_name="EndpointSlice",
    package=PKG,
    metadata=meta.OBJECT_META,
    addressType=STRING,
    endpoints=ListOf(ENDPOINT, list_type="atomic"),
    ports=ListOf(ENDPOINT_PORT, list_type="atomic"),
)
