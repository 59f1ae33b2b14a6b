"""Defaulting applied on create, as kube-apiserver's defaulters and admission plugins do.

Clients (and kubelets) read defaulted fields such as ``spec.restartPolicy``,
``terminationGracePeriodSeconds``, ``imagePullPolicy`` or the default NoExecute
tolerations, so a stand-in that skipped them would hide bugs that show on real clusters.
"""

from __future__ import annotations

import base64
from typing import Any

from kubelet_core._controlplane.resources import (
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    SERVICES,
    ResourceType,
)

KubeObject = dict[str, Any]

_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]


def _pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _default_container(c: KubeObject) -> None:
    resources = c.setdefault("resources", {})
    limits = resources.get("limits") if isinstance(resources, dict) else None
    if isinstance(limits, dict) and limits:
        # A limit without a request makes the request equal to it (SetDefaults_Pod).
        requests = resources.get("requests")
        if not isinstance(requests, dict):
            requests = resources["requests"] = {}
        for name, value in limits.items():
            requests.setdefault(name, value)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _default_pod_spec(obj: KubeObject) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    add_default_tolerations(spec)
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            if isinstance(c, dict):
                _default_container(c)


def add_default_tolerations(spec: KubeObject) -> None:
    """The DefaultTolerationSeconds admission plugin (on create and on update)."""
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = spec["tolerations"] = []
    if not isinstance(tolerations, list):
        return
    for default in _DEFAULT_TOLERATIONS:
        if not any(
            isinstance(t, dict)
            and (
                t.get("key") == default["key"]
                or (not t.get("key") and t.get("operator") == "Exists")
            )
            and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        ):
            tolerations.append(dict(default))


def _default_pod(obj: KubeObject) -> None:
    _default_pod_spec(obj)
    # Like kube-apiserver, a pod's status is not taken from the create request.
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


_NODE_INFO_FIELDS = (
    "machineID",
    "systemUUID",
    "bootID",
    "kernelVersion",
    "osImage",
    "containerRuntimeVersion",
    "kubeletVersion",
    "kubeProxyVersion",
    "operatingSystem",
    "architecture",
)


def normalize(rt: ResourceType, obj: KubeObject) -> None:
    """Fields the real server always emits (Go fields without omitempty), on every write."""
    if rt is NODES:
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        info = status.get("nodeInfo")
        if not isinstance(info, dict):
            info = status["nodeInfo"] = {}
        for field in _NODE_INFO_FIELDS:
            info.setdefault(field, "")
        endpoints = status.setdefault("daemonEndpoints", {})
        if isinstance(endpoints, dict):
            endpoints.setdefault("kubeletEndpoint", {"Port": 0})
    elif rt is SERVICES:
        from kubelet_core._controlplane.services.service import normalize_status

        normalize_status(obj)


def apply_update_defaults(rt: ResourceType, obj: KubeObject) -> None:
    """Defaulting that also runs on updates and patches (decoding defaults, admission)."""
    from kubelet_core._controlplane.workloads.defaults import apply_workload_defaults

    apply_workload_defaults(rt, obj)
    if rt is PODS:
        _default_pod_spec(obj)
    elif rt is SECRETS:
        _default_secret(obj)


def _default_secret(obj: KubeObject) -> None:
    """Secrets: type defaults to Opaque; stringData is merged into data and not stored."""
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def apply_defaults(rt: ResourceType, obj: KubeObject) -> None:
    from kubelet_core._controlplane.workloads.defaults import apply_workload_defaults

    apply_workload_defaults(rt, obj, creating=True)
    if rt is PODS:
        _default_pod(obj)
    elif rt is NAMESPACES:
        spec = obj.setdefault("spec", {})
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif rt is SECRETS:
        _default_secret(obj)
