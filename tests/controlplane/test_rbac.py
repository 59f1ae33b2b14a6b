"""RBAC over real HTTPS: client certificates and bearer tokens, the bootstrap policy, bindings,
escalation prevention, reviews and impersonation, as a kube-apiserver with ``Node,RBAC``."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.rbac.bootstrap import AUTOUPDATE

from .conftest import Client, eventually
from .test_join import call

RBAC = "/apis/rbac.authorization.k8s.io/v1"
SAR = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def cert_context(cp: ControlPlane, user: str, *groups: str) -> ssl.SSLContext:
    """A client certificate from the cluster CA (CN user, O groups), as kubeadm issues them."""
    stem = "client-" + user.replace(":", "_")
    pair = cp.pki.issue(stem, user, organizations=groups)
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert_path))
    ctx.load_cert_chain(pair.cert_path, pair.key_path)
    return ctx


def binding(name: str, role: str, subject: dict[str, str], kind: str = "ClusterRole") -> Any:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", **subject}],
    }


async def test_named_users_need_a_binding(control_plane: ControlPlane, client: Client) -> None:
    cp = control_plane
    dev = cert_context(cp, "dev", "devs")
    status, body = await call(cp, "GET", "/api/v1/namespaces/default/pods", ssl_context=dev)
    assert status == 403
    assert body["message"] == (
        'pods is forbidden: User "dev" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    )
    assert body["details"] == {"kind": "pods"}
    cp.tokens.add("ci-token", "ci", ["builders"])
    path = "/api/v1/namespaces/default/configmaps"
    assert (await call(cp, "GET", path, token="ci-token"))[0] == 403
    status, body = await call(cp, "GET", f"{RBAC}/clusterroles", token="ci-token")
    assert status == 403 and body["message"] == (
        'clusterroles.rbac.authorization.k8s.io is forbidden: User "ci" cannot list resource '
        '"clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope'
    )
    # Discovery and health stay open to every authenticated user.
    assert (await call(cp, "GET", "/apis", token="ci-token"))[0] == 200
    assert (await call(cp, "GET", "/version", token="ci-token"))[0] == 200

    await client.ok(
        "POST",
        f"{RBAC}/clusterrolebindings",
        binding("devs-view", "view", {"kind": "Group", "name": "devs"}),
    )
    assert (await call(cp, "GET", "/api/v1/namespaces/default/pods", ssl_context=dev))[0] == 200
    assert (await call(cp, "GET", "/api/v1/namespaces/kube-system/pods", ssl_context=dev))[0] == 200
    assert (await call(cp, "DELETE", "/api/v1/namespaces/default/pods/p", ssl_context=dev))[
        0
    ] == 403
    assert (await call(cp, "GET", "/api/v1/namespaces/default/secrets", ssl_context=dev))[0] == 403

    await client.ok(
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding("ci-edit", "edit", {"kind": "User", "name": "ci"}),
    )
    body = {"metadata": {"name": "c"}, "data": {"a": "b"}}
    assert (await call(cp, "POST", path, body, token="ci-token"))[0] == 201
    other = "/api/v1/namespaces/kube-public/configmaps"
    assert (await call(cp, "POST", other, body, token="ci-token"))[0] == 403
    # A binding to a role that does not exist (yet) is allowed and grants nothing.
    dangling = binding("ci-ghost", "ghost", {"kind": "User", "name": "ci"}, kind="Role")
    await client.ok("POST", f"{RBAC}/namespaces/kube-public/rolebindings", dangling)
    assert (await call(cp, "POST", other, body, token="ci-token"))[0] == 403
    ghost = {
        "metadata": {"name": "ghost"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
    }
    await client.ok("POST", f"{RBAC}/namespaces/kube-public/roles", ghost)
    assert (await call(cp, "POST", other, body, token="ci-token"))[0] == 201


async def test_the_bootstrap_policy(control_plane: ControlPlane, client: Client) -> None:
    roles = {
        r["metadata"]["name"]: r for r in (await client.ok("GET", f"{RBAC}/clusterroles"))["items"]
    }
    for name in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:node-bootstrapper",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    ):
        assert roles[name]["metadata"]["annotations"][AUTOUPDATE] == "true", name
    assert roles["cluster-admin"]["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]

    def holds(role: str, resource: str, verb: str) -> bool:
        return any(
            resource in r.get("resources", ()) and verb in r["verbs"] for r in roles[role]["rules"]
        )

    # admin > edit > view, by aggregation.
    assert holds("view", "pods", "list") and not holds("view", "pods", "create")
    assert not holds("view", "secrets", "get")
    assert holds("edit", "pods", "create") and holds("edit", "pods", "list")
    assert holds("admin", "rolebindings", "create") and holds("admin", "pods", "list")
    assert not holds("edit", "rolebindings", "create")
    crbs = {
        b["metadata"]["name"]: b
        for b in (await client.ok("GET", f"{RBAC}/clusterrolebindings"))["items"]
    }
    subjects = {name: [(s["kind"], s["name"]) for s in b["subjects"]] for name, b in crbs.items()}
    assert subjects["cluster-admin"] == [("Group", "system:masters")]
    assert subjects["system:discovery"] == [("Group", "system:authenticated")]
    assert subjects["system:basic-user"] == [("Group", "system:authenticated")]
    assert subjects["system:public-info-viewer"] == [
        ("Group", "system:authenticated"),
        ("Group", "system:unauthenticated"),
    ]
    # kubeadm's, for joining nodes (wasmlet up is kubeadm-like).
    assert subjects["kubeadm:node-autoapprove-bootstrap"] == [("Group", "system:bootstrappers")]
    assert crbs["kubeadm:node-autoapprove-certificate-rotation"]["roleRef"]["name"] == (
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
    )
    # Anonymous: health and version, and kubeadm's cluster-info; nothing else (401).
    anon_ctx = ssl.create_default_context(cafile=str(control_plane.pki.ca_cert_path))
    assert (await call(control_plane, "GET", "/version", ssl_context=anon_ctx))[0] == 200
    cluster_info = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    assert (await call(control_plane, "GET", cluster_info, ssl_context=anon_ctx))[0] == 200
    assert (await call(control_plane, "GET", "/api", ssl_context=anon_ctx))[0] == 401


async def test_restart_reconciles_autoupdate_roles(tmp_path: Path) -> None:
    import aiohttp

    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        client = Client(cp, s)
        basic = await client.ok("GET", f"{RBAC}/clusterroles/system:basic-user")
        basic["rules"] = basic["rules"][:1]
        await client.ok("PUT", f"{RBAC}/clusterroles/system:basic-user", basic)
        discovery = await client.ok("GET", f"{RBAC}/clusterroles/system:discovery")
        discovery["metadata"]["annotations"][AUTOUPDATE] = "false"
        discovery["rules"] = [{"nonResourceURLs": ["/version"], "verbs": ["get"]}]
        await client.ok("PUT", f"{RBAC}/clusterroles/system:discovery", discovery)
        public = await client.ok("GET", f"{RBAC}/clusterrolebindings/system:public-info-viewer")
        public["subjects"] = [*public["subjects"][:1], {"kind": "User", "name": "extra"}]
        await client.ok("PUT", f"{RBAC}/clusterrolebindings/system:public-info-viewer", public)
        await client.ok("DELETE", f"{RBAC}/clusterrolebindings/cluster-admin")
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        client = Client(cp, s)
        basic = await client.ok("GET", f"{RBAC}/clusterroles/system:basic-user")
        assert len(basic["rules"]) == 2  # what was missing is back
        discovery = await client.ok("GET", f"{RBAC}/clusterroles/system:discovery")
        assert discovery["rules"] == [{"nonResourceURLs": ["/version"], "verbs": ["get"]}]
        public = await client.ok("GET", f"{RBAC}/clusterrolebindings/system:public-info-viewer")
        names = [sub["name"] for sub in public["subjects"]]
        assert names == ["system:authenticated", "extra", "system:unauthenticated"]
        await client.ok("GET", f"{RBAC}/clusterrolebindings/cluster-admin")


async def test_validation_and_immutable_role_ref(client: Client) -> None:
    path = f"{RBAC}/namespaces/default/rolebindings"
    created = await client.ok("POST", path, binding("b", "view", {"kind": "User", "name": "u"}))
    created["roleRef"]["name"] = "edit"
    status, body = await client.put(f"{path}/b", created)
    assert status == 422 and "cannot change roleRef" in body["message"]
    bad = binding("c", "view", {"kind": "Robot", "name": "r"})
    bad["roleRef"]["kind"] = "Nope"
    status, body = await client.post(path, bad)
    assert status == 422
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"roleRef.kind", "subjects[0].kind"}
    role = {"metadata": {"name": "r"}, "rules": [{"nonResourceURLs": ["/x"], "verbs": ["get"]}]}
    status, body = await client.post(f"{RBAC}/namespaces/default/roles", role)
    assert status == 422 and "namespaced rules cannot apply to non-resource URLs" in body["message"]
    status, _ = await client.post(
        f"{RBAC}/clusterroles",
        {"metadata": {"name": "system:x"}, "rules": [{"resources": ["pods"], "verbs": ["get"]}]},
    )
    assert status == 422


async def test_escalation_prevention_covers_patches(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    cp.tokens.add("lead-token", "lead")
    await client.ok(
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding("lead-admin", "admin", {"kind": "User", "name": "lead"}),
    )
    roles = f"{RBAC}/namespaces/default/roles"
    reader = {
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    assert (await call(cp, "POST", roles, reader, token="lead-token"))[0] == 201
    # A merge patch that would add what lead does not hold (nodes are cluster-scoped).
    more = {"rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get"]}]}
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert_path))
    import aiohttp

    async with (
        aiohttp.ClientSession() as s,
        s.patch(
            cp.url + f"{roles}/reader",
            json=more,
            ssl=ctx,
            headers={
                "Authorization": "Bearer lead-token",
                "Content-Type": "application/merge-patch+json",
            },
        ) as resp,
    ):
        assert resp.status == 403
        assert (
            "attempting to grant RBAC permissions not currently held"
            in (await resp.json())["message"]
        )
    # With the escalate verb, anything goes.
    escalate = {
        "metadata": {"name": "escalator"},
        "rules": [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles"],
                "verbs": ["escalate"],
            }
        ],
    }
    await client.ok("POST", roles, escalate)
    await client.ok(
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding("lead-esc", "escalator", {"kind": "User", "name": "lead"}, kind="Role"),
    )
    wide = {"metadata": {"name": "wide"}, "rules": more["rules"]}
    assert (await call(cp, "POST", roles, wide, token="lead-token"))[0] == 201


async def test_a_node_certificate_is_judged_by_the_node_authorizer(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    node = cert_context(cp, "system:node:n1", "system:nodes")
    await client.ok("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
    status, body = await call(cp, "GET", "/api/v1/namespaces/default/secrets/s", ssl_context=node)
    assert status == 403
    assert body["message"].endswith("no relationship found between node 'n1' and this object")
    assert (await call(cp, "GET", "/api/v1/nodes", ssl_context=node))[0] == 200
    # A node's can-i: RBAC grants it nothing itself, the Node authorizer decides.
    review = {"spec": {"resourceAttributes": {"verb": "list", "resource": "nodes"}}}
    ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    status, body = await call(cp, "POST", ssar, review, ssl_context=node)
    assert (status, body["status"]["allowed"]) == (201, True)
    status, body = await call(
        cp,
        "POST",
        SAR,
        {
            "spec": {
                "user": "system:node:n1",
                "groups": ["system:nodes"],
                "resourceAttributes": {
                    "verb": "get",
                    "resource": "secrets",
                    "namespace": "default",
                    "name": "s",
                },
            }
        },
        ssl_context=node,
    )
    assert (status, body["status"]["allowed"]) == (201, False)


async def test_reviews(control_plane: ControlPlane, client: Client) -> None:
    cp = control_plane
    spec = {
        "user": "system:serviceaccount:default:x",
        "groups": ["system:serviceaccounts", "system:authenticated"],
        "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"},
    }
    answer = await client.ok("POST", SAR, {"kind": "SubjectAccessReview", "spec": spec})
    assert answer["status"] == {"allowed": False}
    await client.ok(
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding(
            "x-view",
            "view",
            {"kind": "ServiceAccount", "name": "x", "namespace": "default", "apiGroup": ""},
        ),
    )
    answer = await client.ok("POST", SAR, {"kind": "SubjectAccessReview", "spec": spec})
    assert answer["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "x-view/default" of ClusterRole "view" to '
        'ServiceAccount "x"',
    }
    dev = cert_context(cp, "dev", "devs")
    whoami = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    status, body = await call(cp, "POST", whoami, {"kind": "SelfSubjectReview"}, ssl_context=dev)
    assert status == 201
    assert body["status"]["userInfo"] == {
        "username": "dev",
        "groups": ["devs", "system:authenticated"],
    }
    rules_path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
    status, body = await call(
        cp, "POST", rules_path, {"spec": {"namespace": "default"}}, ssl_context=dev
    )
    assert status == 201 and body["status"]["incomplete"] is False
    granted = {
        (r.get("apiGroups", [""])[0], res)
        for r in body["status"]["resourceRules"]
        for res in r["resources"]
    }
    assert ("authorization.k8s.io", "selfsubjectaccessreviews") in granted
    assert ("", "pods") not in granted
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in body["status"]["nonResourceRules"]
    # Discovery lists the review groups.
    groups = {g["name"] for g in (await client.ok("GET", "/apis"))["groups"]}
    assert {"authorization.k8s.io", "authentication.k8s.io", "rbac.authorization.k8s.io"} <= groups
    listed = await client.ok("GET", "/apis/authorization.k8s.io/v1")
    assert "selfsubjectaccessreviews" in {r["name"] for r in listed["resources"]}


async def test_impersonation_needs_the_impersonate_verb(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    cp.tokens.add("dev-token", "dev")
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert_path))
    import aiohttp

    async def as_admin(token: str) -> tuple[int, Any]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Impersonate-User": "root",
            "Impersonate-Group": "system:masters",
        }
        async with (
            aiohttp.ClientSession() as s,
            s.get(cp.url + "/api/v1/nodes", ssl=ctx, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    status, body = await as_admin("dev-token")
    assert status == 403
    assert body["message"] == (
        'users "root" is forbidden: User "dev" cannot impersonate resource "users" in API group "" '
        "at the cluster scope"
    )
    impersonator = {
        "metadata": {"name": "impersonator"},
        "rules": [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}],
    }
    await client.ok("POST", f"{RBAC}/clusterroles", impersonator)
    await client.ok(
        "POST",
        f"{RBAC}/clusterrolebindings",
        binding("dev-imp", "impersonator", {"kind": "User", "name": "dev"}),
    )
    assert (await as_admin("dev-token"))[0] == 200


async def test_aggregation_follows_labels(client: Client) -> None:
    extra = {
        "metadata": {
            "name": "leases-reader",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
        },
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
    }
    await client.ok("POST", f"{RBAC}/clusterroles", extra)

    async def view_has_widgets() -> bool:
        view = await client.ok("GET", f"{RBAC}/clusterroles/view")
        return extra["rules"][0] in view["rules"]

    await eventually(view_has_widgets)
    await client.ok("DELETE", f"{RBAC}/clusterroles/leases-reader")

    async def view_lost_widgets() -> bool:
        return not await view_has_widgets()

    await eventually(view_lost_widgets)
