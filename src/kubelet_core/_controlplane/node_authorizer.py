"""The Node authorizer: what a kubelet (``system:node:<name>`` in ``system:nodes``) may do.

As in kube-apiserver (``plugin/pkg/auth/authorizer/node``), a node may read a Secret or
ConfigMap only when a pod bound to it uses it (volumes, projected sources, env and
envFrom, image pull secrets), create tokens only for service accounts of its pods, and
touch only its own Lease in ``kube-node-lease``. Everything else is decided by the
``system:node`` role's rules (nodes, pods, pods/status, events, CSRs, reviews...), which
kube's authorizer also checks itself; what they do not cover is denied. Which Node or
pod a node may *write* is NodeRestriction's business (``noderestriction``).

Relationships are found by scanning the store's pods of the namespace in question: no
graph to keep in step, and cheap at the sizes this control plane serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubelet_core._controlplane.rbac.rules import rule_allows
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import PODS
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
LEASE_NAMESPACE = "kube-node-lease"

ALLOW, DENY, NO_OPINION = "allow", "deny", "no-opinion"


def _rule(groups: tuple[str, ...], resources: tuple[str, ...], *verbs: str) -> KubeObject:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


#: kube's ``system:node`` ClusterRole, minus the resources this control plane does not serve.
NODE_RULES: tuple[KubeObject, ...] = (
    _rule(("authentication.k8s.io",), ("tokenreviews",), "create"),
    _rule(
        ("authorization.k8s.io",), ("subjectaccessreviews", "localsubjectaccessreviews"), "create"
    ),
    _rule(("",), ("services",), "get", "list", "watch"),
    _rule(("",), ("nodes",), "create", "get", "list", "watch", "patch", "update", "delete"),
    _rule(("",), ("nodes/status",), "patch", "update"),
    _rule(("", "events.k8s.io"), ("events",), "create", "patch", "update"),
    _rule(("",), ("pods",), "get", "list", "watch", "create", "delete"),
    _rule(("",), ("pods/status",), "patch", "update"),
    _rule(("",), ("pods/eviction",), "create"),
    _rule(("",), ("endpoints",), "get"),
    _rule(
        ("certificates.k8s.io",), ("certificatesigningrequests",), "create", "get", "list", "watch"
    ),
    _rule(("node.k8s.io",), ("runtimeclasses",), "get", "list", "watch"),
)


def node_name(username: str, groups: tuple[str, ...] | list[str]) -> str | None:
    """The node a user is (kube's NodeIdentifier), or None for anyone else."""
    if NODES_GROUP not in groups or not username.startswith(NODE_PREFIX):
        return None
    return username[len(NODE_PREFIX) :] or None


def _containers(spec: KubeObject) -> Iterator[KubeObject]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or ()


def referenced(pod: KubeObject, kind: str) -> set[str]:
    """Names of the Secrets (``kind="secret"``) or ConfigMaps (``"configMap"``) a pod uses."""
    spec = pod.get("spec") or {}
    names: set[str] = set()
    key_ref, env_ref = f"{kind}KeyRef", f"{kind}Ref"
    if kind == "secret":
        names |= {str(s.get("name")) for s in spec.get("imagePullSecrets") or () if s.get("name")}
    for volume in spec.get("volumes") or ():
        source = volume.get(kind) or {}
        name = source.get("secretName" if kind == "secret" else "name")
        if name:
            names.add(str(name))
        for projected in (volume.get("projected") or {}).get("sources") or ():
            name = (projected.get(kind) or {}).get("name")
            if name:
                names.add(str(name))
    for container in _containers(spec):
        for env in container.get("env") or ():
            name = ((env.get("valueFrom") or {}).get(key_ref) or {}).get("name")
            if name:
                names.add(str(name))
        for source in container.get("envFrom") or ():
            name = (source.get(env_ref) or {}).get("name")
            if name:
                names.add(str(name))
    return names


class NodeAuthorizer:
    def __init__(self, store: Store) -> None:
        self.store = store

    def pods_on(self, node: str, namespace: str) -> Iterator[KubeObject]:
        for entry in self.store.entries(PODS, namespace):
            if (entry.obj.get("spec") or {}).get("nodeName") == node:
                yield entry.obj

    def decide(self, node: str, info: RequestInfo) -> tuple[str, str]:
        """``(ALLOW | DENY | NO_OPINION, reason)`` for a request of node ``node``."""
        if not info.is_resource:
            return NO_OPINION, ""
        if info.api_group == "" and info.resource in ("secrets", "configmaps"):
            return self._read_referenced(node, info)
        if info.api_group == "" and info.resource == "serviceaccounts":
            if info.verb != "create" or info.subresource != "token":
                return DENY, "can only create tokens for individual service accounts"
            for pod in self.pods_on(node, info.namespace):
                account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
                if account == info.name:
                    return ALLOW, ""
            return DENY, f"no relationship found between node '{node}' and this object"
        if info.api_group == "coordination.k8s.io" and info.resource == "leases":
            if info.verb not in ("get", "create", "update", "patch", "delete"):
                return DENY, "can only get, create, update, patch, or delete a node lease"
            if info.namespace != LEASE_NAMESPACE:
                return DENY, f"can only access leases in the {LEASE_NAMESPACE} namespace"
            if info.name and info.name != node:
                return DENY, "can only access node lease with the same name as the requesting node"
            return ALLOW, ""
        attrs = info.attributes()
        if any(rule_allows(rule, attrs, False) for rule in NODE_RULES):
            return ALLOW, ""
        return NO_OPINION, ""

    def _read_referenced(self, node: str, info: RequestInfo) -> tuple[str, str]:
        if info.verb not in ("get", "list", "watch") or not info.name:
            return DENY, f"can only read individual {info.resource}"
        kind = "secret" if info.resource == "secrets" else "configMap"
        for pod in self.pods_on(node, info.namespace):
            if info.name in referenced(pod, kind):
                return ALLOW, ""
        return DENY, f"no relationship found between node '{node}' and this object"
