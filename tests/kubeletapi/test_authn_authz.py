"""The control plane's TokenReview/SubjectAccessReview answers (pure functions, real RBAC rules)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._controlplane.authn_authz import (
    Authorizer,
    TokenTable,
    subject_access_review,
    token_review,
)

KubeObject = dict[str, Any]

POLICY: dict[str, list[KubeObject]] = {
    "clusterroles": [
        {
            "metadata": {"name": "node-reader"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["nodes/stats", "nodes/metrics"],
                    "verbs": ["get"],
                    "resourceNames": ["n1"],
                },
                {"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]},
            ],
        },
        {
            "metadata": {"name": "anything"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
    ],
    "clusterrolebindings": [
        {
            "metadata": {"name": "ops"},
            "roleRef": {"kind": "ClusterRole", "name": "node-reader"},
            "subjects": [{"kind": "Group", "name": "ops"}],
        },
    ],
    "roles": [
        {
            "metadata": {"name": "pod-logs", "namespace": "team"},
            "rules": [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}],
        },
    ],
    "rolebindings": [
        {
            "metadata": {"name": "ci-logs", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "pod-logs"},
            "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "team"}],
        },
        {
            "metadata": {"name": "admin-here", "namespace": "team"},
            "roleRef": {"kind": "ClusterRole", "name": "anything"},
            "subjects": [{"kind": "User", "name": "lead"}],
        },
    ],
}


def lister(plural: str, namespace: str | None) -> Iterable[KubeObject]:
    return [
        obj
        for obj in POLICY.get(plural, [])
        if namespace is None or obj["metadata"].get("namespace") == namespace
    ]


def review(user: str, groups: list[str], **attrs: str) -> KubeObject:
    key = "nonResourceAttributes" if "path" in attrs else "resourceAttributes"
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, key: attrs},
    }


@pytest.mark.parametrize(
    ("user", "groups", "attrs", "allowed"),
    [
        ("root", ["system:masters"], {"verb": "delete", "resource": "nodes"}, True),
        (
            "o",
            ["ops"],
            {"verb": "get", "resource": "nodes", "subresource": "stats", "name": "n1"},
            True,
        ),
        (
            "o",
            ["ops"],
            {"verb": "get", "resource": "nodes", "subresource": "stats", "name": "n2"},
            False,
        ),
        (
            "o",
            ["ops"],
            {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "n1"},
            False,
        ),
        (
            "o",
            ["ops"],
            {"verb": "create", "resource": "nodes", "subresource": "metrics", "name": "n1"},
            False,
        ),
        ("o", ["ops"], {"verb": "get", "path": "/metrics/resource"}, True),
        ("o", ["ops"], {"verb": "get", "path": "/logs"}, False),
        (
            "system:serviceaccount:team:ci",
            [],
            {"verb": "get", "resource": "pods", "subresource": "log", "namespace": "team"},
            True,
        ),
        (
            "system:serviceaccount:other:ci",
            [],
            {"verb": "get", "resource": "pods", "subresource": "log", "namespace": "team"},
            False,
        ),
        (
            "system:serviceaccount:team:ci",
            [],
            {"verb": "get", "resource": "pods", "subresource": "log", "namespace": "prod"},
            False,
        ),
        ("lead", [], {"verb": "delete", "resource": "pods", "namespace": "team"}, True),
        ("lead", [], {"verb": "delete", "resource": "pods", "namespace": "prod"}, False),
        ("nobody", ["system:authenticated"], {"verb": "get", "resource": "nodes"}, False),
    ],
)
def test_rbac_decisions(user: str, groups: list[str], attrs: dict[str, str], allowed: bool) -> None:
    answer = subject_access_review(review(user, groups, **attrs), Authorizer(lister))
    assert answer["kind"] == "SubjectAccessReview"
    assert answer["status"]["allowed"] is allowed
    assert answer["spec"]["user"] == user


def test_without_rbac_only_privileged_groups_pass() -> None:
    authorizer = Authorizer()
    assert authorizer.decide({"user": "a", "groups": ["system:masters"]}) == (True, "")
    assert authorizer.decide({"user": "a", "groups": ["devs"]})[0] is False


def test_token_review_and_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('# token,user,uid,groups\nt1,alice,u-1,"devs,ops"\nt2,bob,u-2\n')
    table = TokenTable.from_file(path)
    answer = token_review({"spec": {"token": "t1"}}, table)
    assert answer["status"] == {
        "authenticated": True,
        "user": {
            "username": "alice",
            "uid": "u-1",
            "groups": ["devs", "ops", "system:authenticated"],
        },
    }
    assert token_review({"spec": {"token": "nope"}}, table)["status"]["authenticated"] is False
    assert token_review({"spec": {}}, table)["status"]["authenticated"] is False
    table.remove("t2")
    assert table.lookup("t2") is None


async def test_token_table_as_control_plane_authenticator() -> None:
    table = TokenTable()
    table.add("secret", "ci", ["builders"])
    user = await table.authenticate("secret")
    assert user is not None
    assert (user.name, user.groups) == ("ci", ("builders", "system:authenticated"))
    assert await table.authenticate("other") is None
