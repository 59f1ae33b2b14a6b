"""Protobuf field tables for the Service bodies kubectl's typed clients send.

``kubectl create service`` and ``kubectl expose`` encode Services as protobuf; these
tables (field numbers from k8s.io/api/core/v1's generated.proto) let
``protobuf.decode`` read them. Fields not listed are dropped as unknown.
"""

from __future__ import annotations

from kubelet_core._controlplane.protobuf import OBJECT_META, Table

_S, _I, _B, _M, _RS, _RM = "string", "int", "bool", "message", "repeated_string", "repeated_message"
SERVICE_PORT: Table = {
    1: ("name", _S, None),
    2: ("protocol", _S, None),
    3: ("port", _I, None),
    4: ("targetPort", "intorstr", None),
    5: ("nodePort", "int_omitempty", None),
    6: ("appProtocol", _S, None),
}
SERVICE_SPEC: Table = {
    1: ("ports", _RM, SERVICE_PORT),
    2: ("selector", "map_string", None),
    3: ("clusterIP", _S, None),
    4: ("type", _S, None),
    5: ("externalIPs", _RS, None),
    7: ("sessionAffinity", _S, None),
    8: ("loadBalancerIP", _S, None),
    9: ("loadBalancerSourceRanges", _RS, None),
    10: ("externalName", _S, None),
    11: ("externalTrafficPolicy", _S, None),
    12: ("healthCheckNodePort", "int_omitempty", None),
    13: ("publishNotReadyAddresses", "bool_omitempty", None),
    17: ("ipFamilyPolicy", _S, None),
    18: ("clusterIPs", _RS, None),
    19: ("ipFamilies", _RS, None),
    20: ("allocateLoadBalancerNodePorts", _B, None),
    21: ("loadBalancerClass", _S, None),
    22: ("internalTrafficPolicy", _S, None),
}
KINDS: dict[str, Table] = {
    "Service": {1: ("metadata", _M, OBJECT_META), 2: ("spec", _M, SERVICE_SPEC)},
}
