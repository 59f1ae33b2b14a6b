"""What a request asks to do, in the terms authorizers decide on (kube's RequestInfo).

``GET /api/v1/namespaces/ns/secrets/s`` is verb ``get`` on resource ``secrets`` named
``s`` in namespace ``ns``; a list or watch with a ``metadata.name=`` field selector
names its object too, so a node may watch the one Secret it is allowed to read, as with
kube-apiserver. Paths outside the resource grammar are non-resource requests
(``/healthz``, ``/api``, ``/version``) with the lower-cased HTTP method as verb.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    verb: str
    path: str
    is_resource: bool = False
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def attributes(self) -> dict[str, str]:
        """SubjectAccessReview-style attributes (what RBAC rules are matched against)."""
        if not self.is_resource:
            return {"verb": self.verb, "path": self.path}
        return {
            "verb": self.verb,
            "group": self.api_group,
            "version": self.api_version,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
            "name": self.name,
        }


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        key = key.rstrip("=")
        value = value.lstrip("=")
        if key.strip() == "metadata.name" and not key.endswith("!"):
            return value.strip()
    return ""


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(method.lower(), path)
    watching = bool(rest) and rest[0] == "watch"
    if watching:
        rest = rest[1:]
    if not rest:
        return RequestInfo(method.lower(), path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) >= 2:
        namespace = rest[1]  # a namespace is its own namespace, as in kube
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if watching or (method == "GET" and query.get("watch") in ("1", "true", "True")):
        verb = "watch"
    elif method in ("GET", "HEAD"):
        verb = "get" if name else "list"
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    if not name and verb in ("list", "watch"):
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    return RequestInfo(verb, path, True, group, version, resource, subresource, namespace, name)
