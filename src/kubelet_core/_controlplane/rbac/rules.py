"""PolicyRule matching: the one place that says what an RBAC rule covers.

Two questions, both kube's (``pkg/apis/rbac/v1/evaluation_helpers.go`` and
``pkg/registry/rbac/validation``):

* :func:`rule_allows`: does a rule allow a request? Verbs, API groups, resources
  (``pods``, ``pods/log``, ``*``, ``*/status``, ``pods/*``), resource names, and
  non-resource URLs (``/healthz``, or a prefix ending in ``*``).
* :func:`rule_covers`: does a rule a user holds cover a rule they want to grant? This is
  escalation prevention: a rule is covered when each of its verb x group x resource x
  name combinations is, where ``*`` is only covered by ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KubeObject = dict[str, Any]
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"


def _matches(values: Iterable[str], wanted: str) -> bool:
    return any(v == "*" or v == wanted for v in values)


def _resource_matches(resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in resources:
        if item in ("*", combined):
            return True
        if subresource and item in (f"*/{subresource}", f"{resource}/*"):
            return True
    return False


def _url_matches(urls: Iterable[str], path: str) -> bool:
    for url in urls:
        if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Mapping[str, Any], non_resource: bool) -> bool:
    """Does one PolicyRule cover these resource (or non-resource) attributes?"""
    if not _matches(rule.get("verbs") or (), str(attrs.get("verb", ""))):
        return False
    if non_resource:
        return _url_matches(rule.get("nonResourceURLs") or (), str(attrs.get("path", "")))
    if not _matches(rule.get("apiGroups") or (), str(attrs.get("group", ""))):
        return False
    resource, sub = str(attrs.get("resource", "")), str(attrs.get("subresource", ""))
    if not _resource_matches(rule.get("resources") or (), resource, sub):
        return False
    names = rule.get("resourceNames") or ()
    return not names or str(attrs.get("name", "")) in names


def subject_matches(
    subject: Mapping[str, Any], user: str, groups: Iterable[str], namespace: str = ""
) -> bool:
    """Is this binding subject (User, Group or ServiceAccount) the given user?

    A ServiceAccount subject without a namespace means the binding's own (``namespace``),
    as kube's RBAC authorizer reads a RoleBinding."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(name == user)
    if kind == "Group":
        return name in set(groups)
    if kind == "ServiceAccount":
        where = subject.get("namespace") or namespace
        return user == f"{SERVICEACCOUNT_PREFIX}{where}:{name}"
    return False


def _covered(owned: Iterable[str], wanted: str) -> bool:
    return any(o == "*" or o == wanted for o in owned)


def _resource_covered(owned: list[str], wanted: str) -> bool:
    if _covered(owned, wanted):
        return True
    resource, _, sub = wanted.partition("/")
    return bool(sub) and (f"*/{sub}" in owned or f"{resource}/*" in owned)


def _url_covered(owned: list[str], wanted: str) -> bool:
    return any(
        o == "*" or o == wanted or (o.endswith("*") and wanted.startswith(o[:-1])) for o in owned
    )


def _one_rule_covers(owner: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    verbs = list(owner.get("verbs") or ())
    if not all(_covered(verbs, v) for v in rule.get("verbs") or ()):
        return False
    urls = list(rule.get("nonResourceURLs") or ())
    if urls:
        owned_urls = list(owner.get("nonResourceURLs") or ())
        return all(_url_covered(owned_urls, u) for u in urls)
    groups, resources = list(owner.get("apiGroups") or ()), list(owner.get("resources") or ())
    if not all(_covered(groups, g) for g in rule.get("apiGroups") or ()):
        return False
    if not all(_resource_covered(resources, r) for r in rule.get("resources") or ()):
        return False
    owned_names = list(owner.get("resourceNames") or ())
    names = list(rule.get("resourceNames") or ())
    return not owned_names or (bool(names) and all(n in owned_names for n in names))


def _atoms(rule: Mapping[str, Any]) -> Iterable[KubeObject]:
    """One rule per verb x group x resource (or URL) x name, as kube breaks rules down."""
    verbs = rule.get("verbs") or ()
    if rule.get("nonResourceURLs"):
        for verb in verbs:
            for url in rule["nonResourceURLs"]:
                yield {"verbs": [verb], "nonResourceURLs": [url]}
        return
    names = rule.get("resourceNames") or ()
    for verb in verbs:
        for group in rule.get("apiGroups") or ():
            for resource in rule.get("resources") or ():
                base = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                if names:
                    for name in names:
                        yield {**base, "resourceNames": [name]}
                else:
                    yield base


def uncovered(
    owned: Iterable[Mapping[str, Any]], wanted: Iterable[Mapping[str, Any]]
) -> list[KubeObject]:
    """The parts of ``wanted`` no rule in ``owned`` covers (empty: no escalation)."""
    owned = list(owned)
    return [
        atom
        for rule in wanted
        for atom in _atoms(rule)
        if not any(_one_rule_covers(owner, atom) for owner in owned)
    ]
