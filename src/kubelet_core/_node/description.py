"""What this node says about itself: labels, taints, addresses, capacity, nodeInfo.

Built once at start from the config, the provider's ``NodeProfile`` and the
measured host, then used both to create the Node and to refresh the status
fields the agent owns.  Precedence of labels (lowest first): the well-known
labels, the provider's profile, ``identity.labels`` -- an operator can
always override.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kubelet_core._config import NodeConfig
from kubelet_core._node.host import HostInfo
from kubelet_core._provider.base import KubeObject, NodeProfile, handler_label

KUBELET_VERSION = "v1.36.0-wasmlet"
NODE_TYPE_LABEL = "type"
NODE_TYPE = "wasmlet"


@dataclasses.dataclass
class NodeDescription:
    name: str
    node_ip: str
    port: int
    labels: dict[str, str]
    taints: list[KubeObject]
    capacity: dict[str, str]
    node_info: dict[str, str]

    @classmethod
    def build(cls, config: NodeConfig, profile: NodeProfile, host: HostInfo) -> NodeDescription:
        labels = {
            "kubernetes.io/hostname": config.node_name,
            "kubernetes.io/os": profile.operating_system,
            "kubernetes.io/arch": profile.architecture,
            "beta.kubernetes.io/os": profile.operating_system,
            "beta.kubernetes.io/arch": profile.architecture,
            NODE_TYPE_LABEL: NODE_TYPE,
        }
        labels.update(profile.labels)
        # Every handler the provider serves, however its profile was built: the
        # RuntimeClasses select nodes by these labels.
        labels.update({handler_label(handler): "true" for handler in profile.runtime_handlers})
        labels.update(config.identity.labels)
        capacity = host.capacity(config.pods.max_pods)
        capacity.update(profile.capacity)
        node_info = {
            "machineID": host.machine_id,
            "systemUUID": host.system_uuid,
            "bootID": host.boot_id,
            "kernelVersion": host.kernel_version,
            "osImage": host.os_image,
            "containerRuntimeVersion": profile.runtime_version or "wasmlet://unknown",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": profile.operating_system,
            "architecture": profile.architecture,
        }
        return cls(
            name=config.node_name,
            node_ip=config.identity.ip,
            port=config.kubelet_api.port,
            labels=labels,
            taints=[taint.to_json() for taint in profile.taints],
            capacity=capacity,
            node_info=node_info,
        )

    def allocatable(self) -> dict[str, str]:
        """What pods may request in total; also what admission checks against.

        The whole capacity: nothing is reserved for system daemons (kubelet's
        ``--kube-reserved``/``--system-reserved`` have no equivalent here).
        """
        return dict(self.capacity)

    def status_fields(self) -> KubeObject:
        """The parts of ``status`` the agent owns (conditions are merged separately)."""
        return {
            "addresses": [
                {"type": "InternalIP", "address": self.node_ip},
                {"type": "Hostname", "address": self.name},
            ],
            "capacity": dict(self.capacity),
            "allocatable": self.allocatable(),
            "nodeInfo": dict(self.node_info),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
        }

    def new_node(self) -> KubeObject:
        """The Node to create when none exists."""
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": dict(self.labels)},
            "spec": {"taints": list(self.taints)} if self.taints else {},
            "status": self.status_fields(),
        }
        return node

    def merged_taints(self, existing: list[KubeObject]) -> list[KubeObject]:
        """Ours plus every foreign taint (a taint is identified by key and effect)."""
        ours = {(t["key"], t.get("effect")) for t in self.taints}
        kept = [t for t in existing if (t.get("key"), t.get("effect")) not in ours]
        return kept + list(self.taints)
