"""The node side of the agent: registration, the Lease heartbeat, node status."""

from kubelet_core._node.description import KUBELET_VERSION, NodeDescription
from kubelet_core._node.host import HostInfo
from kubelet_core._node.lease import LeaseController
from kubelet_core._node.registration import register_node
from kubelet_core._node.status import NodeStatusReporter

__all__ = [
    "KUBELET_VERSION",
    "HostInfo",
    "LeaseController",
    "NodeDescription",
    "NodeStatusReporter",
    "register_node",
]
