"""The one PolicyRule matcher: what a rule allows, and what it covers (escalation checks)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet_core._controlplane.rbac.rules import rule_allows, uncovered

Rule = dict[str, Any]


def res(verbs: str, groups: str, resources: str, names: str = "") -> Rule:
    rule: Rule = {
        "verbs": verbs.split(","),
        "apiGroups": groups.split(",") if groups != "-" else [""],
        "resources": resources.split(","),
    }
    if names:
        rule["resourceNames"] = names.split(",")
    return rule


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        (res("get", "-", "pods"), {"verb": "get", "group": "", "resource": "pods"}, True),
        (res("get", "-", "pods"), {"verb": "list", "group": "", "resource": "pods"}, False),
        (res("get", "apps", "pods"), {"verb": "get", "group": "", "resource": "pods"}, False),
        (res("*", "*", "*"), {"verb": "delete", "group": "x.io", "resource": "things"}, True),
        # Subresources are named with their resource; */status and pods/* are wildcards.
        (res("get", "-", "pods"), {"verb": "get", "resource": "pods", "subresource": "log"}, False),
        (
            res("get", "-", "pods/log"),
            {"verb": "get", "resource": "pods", "subresource": "log"},
            True,
        ),
        (
            res("patch", "-", "*/status"),
            {"verb": "patch", "resource": "nodes", "subresource": "status"},
            True,
        ),
        (res("patch", "-", "*/status"), {"verb": "patch", "resource": "nodes"}, False),
        (
            res("get", "-", "pods/*"),
            {"verb": "get", "resource": "pods", "subresource": "exec"},
            True,
        ),
        (res("get", "-", "pods/*"), {"verb": "get", "resource": "pods"}, False),
        (res("get", "-", "*"), {"verb": "get", "resource": "pods", "subresource": "log"}, True),
        # resourceNames restrict to named objects (a list has no name: refused).
        (
            res("get", "-", "configmaps", "a"),
            {"verb": "get", "resource": "configmaps", "name": "a"},
            True,
        ),
        (
            res("get", "-", "configmaps", "a"),
            {"verb": "get", "resource": "configmaps", "name": "b"},
            False,
        ),
        (res("list", "-", "configmaps", "a"), {"verb": "list", "resource": "configmaps"}, False),
    ],
)
def test_resource_rules(rule: Rule, attrs: dict[str, str], allowed: bool) -> None:
    assert rule_allows(rule, {"group": "", **attrs}, False) is allowed


@pytest.mark.parametrize(
    ("urls", "path", "allowed"),
    [
        (["/healthz"], "/healthz", True),
        (["/healthz"], "/healthz/etcd", False),
        (["/healthz/*"], "/healthz/etcd", True),
        (["/apis*"], "/apis/apps/v1", True),
        (["*"], "/anything", True),
        (["/api"], "/apis", False),
    ],
)
def test_non_resource_urls(urls: list[str], path: str, allowed: bool) -> None:
    rule = {"nonResourceURLs": urls, "verbs": ["get"]}
    assert rule_allows(rule, {"verb": "get", "path": path}, True) is allowed
    assert rule_allows(rule, {"verb": "post", "path": path}, True) is False


def test_covering() -> None:
    held = [res("get,list", "-", "pods,configmaps"), res("*", "apps", "deployments")]
    assert uncovered(held, [res("get", "-", "pods")]) == []
    assert uncovered(held, [res("delete", "apps", "deployments", "web")]) == []
    assert uncovered(held, [res("get,delete", "-", "pods")]) == [res("delete", "-", "pods")]
    # A wildcard is only covered by a wildcard.
    assert uncovered(held, [res("*", "-", "pods")]) == [res("*", "-", "pods")]
    assert uncovered(held, [res("get", "-", "*")]) == [res("get", "-", "*")]
    # Held names cover those names only; a rule for all names is not covered by them.
    named = [res("get", "-", "secrets", "a,b")]
    assert uncovered(named, [res("get", "-", "secrets", "a")]) == []
    assert uncovered(named, [res("get", "-", "secrets")]) == [res("get", "-", "secrets")]
    assert uncovered([res("get", "-", "*/status")], [res("get", "-", "pods/status")]) == []
    urls = [{"nonResourceURLs": ["/metrics/*"], "verbs": ["get"]}]
    assert uncovered(urls, [{"nonResourceURLs": ["/metrics/cadvisor"], "verbs": ["get"]}]) == []
    assert uncovered(urls, [{"nonResourceURLs": ["/logs"], "verbs": ["get"]}]) != []
