"""Discovery documents (/api, /apis, resource lists) and /version, built from resources.py.

Clients may ask for aggregated discovery (apidiscovery.k8s.io/v2) in Accept; answering
with the plain documents and ``Content-Type: application/json`` makes client-go fall back
to legacy discovery, which is what this server speaks.
"""

from __future__ import annotations

import platform
from typing import Any

from kubelet_core._controlplane.resources import ALL, BY_GROUP_VERSION, VERBS, ResourceType

KubeObject = dict[str, Any]

KUBE_VERSION = "v1.36.0"

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "binding": ["create"],
    "log": ["get"],
    "eviction": ["create"],
    "finalize": ["update"],
    "token": ["create"],
    "proxy": ["create", "delete", "get", "patch", "update"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
}
_SUBRESOURCE_KINDS = {
    "binding": "Binding",
    "scale": "Scale",
    "log": "Pod",
    "eviction": "Eviction",
    "token": "TokenRequest",
    "proxy": "NodeProxyOptions",
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}

# Subresources served in another group's kind; kubectl drain looks for pods/eviction
# with group policy to decide it may evict (else it deletes, ignoring budgets).
#: Subresources whose kind lives in another group (kubectl decodes them so).
_SUBRESOURCE_GROUPS = {"eviction": ("policy", "v1"), "scale": ("autoscaling", "v1")}


def version() -> KubeObject:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBE_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": f"{platform.system().lower()}/amd64",
    }


def api_versions(server_address: str) -> KubeObject:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _groups() -> list[str]:
    return sorted({rt.group for rt in ALL if rt.group})


def api_group(group: str) -> KubeObject:
    versions = sorted({rt.version for rt in ALL if rt.group == group})
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_group_list() -> KubeObject:
    groups = []
    for group in _groups():
        doc = api_group(group)
        del doc["kind"], doc["apiVersion"]
        groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_entry(rt: ResourceType) -> KubeObject:
    entry: KubeObject = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(VERBS),
        "storageVersionHash": "",
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def resource_list(group: str, version: str) -> KubeObject | None:
    types = BY_GROUP_VERSION.get((group, version))
    if types is None:
        return None
    resources = []
    for rt in types.values():
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            entry: KubeObject = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": _SUBRESOURCE_KINDS.get(sub, rt.kind),
                "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
            }
            if sub in _SUBRESOURCE_GROUPS:
                entry["group"], entry["version"] = _SUBRESOURCE_GROUPS[sub]
            resources.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
