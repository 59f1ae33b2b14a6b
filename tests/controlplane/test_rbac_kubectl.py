"""RBAC with the real kubectl: ``auth can-i`` / ``--as`` / ``auth whoami``, ``create role`` and
friends, and a ServiceAccount token from ``kubectl create token`` used with ``--token``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.test_kubectl import Kubectl

pytestmark = pytest.mark.needs_kubectl

SA = "system:serviceaccount:default:x"


@pytest.fixture
async def kubectl_cp(tmp_path: Path, kubectl: str) -> AsyncIterator[tuple[ControlPlane, Kubectl]]:
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp:
        yield cp, Kubectl(kubectl, cp.kubeconfig_path, tmp_path)


async def sa_token(k: Kubectl, name: str = "x") -> str:
    await k.out("create", "serviceaccount", name)
    return (await k.out("create", "token", name)).strip()


def without_credentials(cp: ControlPlane, k: Kubectl) -> Kubectl:
    """kubectl with the cluster's address and CA only, so ``--token`` is the only credential
    (a client certificate, tried first, would win over it as in kube-apiserver)."""
    config = yaml.safe_load(cp.kubeconfig_path.read_text())
    config["users"] = [{"name": "admin", "user": {}}]
    path = k.workdir / "no-credentials.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return Kubectl(k.binary, path, k.workdir)


async def test_a_service_account_without_bindings_is_refused_as_on_a_real_cluster(
    kubectl_cp: tuple[ControlPlane, Kubectl],
) -> None:
    cp, admin = kubectl_cp
    token = await sa_token(admin)
    k = without_credentials(cp, admin)
    rc, _, err = await k.run("get", "pods", "--token", token, check=False)
    assert rc != 0
    assert (
        'pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods" '
        'in API group "" in the namespace "default"'
    ) in err
    # Discovery and self-reviews are everyone's (system:discovery, system:basic-user).
    assert (await k.run("auth", "can-i", "list", "pods", "--token", token, check=False))[1] == (
        "no\n"
    )
    whoami = json.loads(await k.out("auth", "whoami", "--token", token, "-o", "json"))
    info = whoami["status"]["userInfo"]
    assert info["username"] == SA
    assert {"system:serviceaccounts", "system:serviceaccounts:default"} <= set(info["groups"])


async def test_view_lets_list_edit_lets_create(kubectl_cp: tuple[ControlPlane, Kubectl]) -> None:
    cp, k = kubectl_cp
    token = await sa_token(k)
    sa = without_credentials(cp, k)
    await k.out(
        "create", "rolebinding", "x-view", "--clusterrole=view", "--serviceaccount=default:x"
    )
    assert await sa.out("get", "pods", "--token", token) == ""  # allowed, nothing to list
    assert (await k.run("auth", "can-i", "create", "pods", "--as", SA, check=False))[1] == "no\n"
    rc, _, err = await sa.run(
        "create", "configmap", "c", "--from-literal=a=b", "--token", token, check=False
    )
    assert rc != 0 and 'cannot create resource "configmaps"' in err
    # Only in its namespace: a RoleBinding grants nothing elsewhere.
    assert (
        await k.run("auth", "can-i", "list", "pods", "-n", "kube-system", "--as", SA, check=False)
    )[1] == "no\n"
    await k.out(
        "create", "rolebinding", "x-edit", "--clusterrole=edit", "--serviceaccount=default:x"
    )
    assert await k.out("auth", "can-i", "create", "pods", "--as", SA) == "yes\n"
    await sa.out("create", "configmap", "c", "--from-literal=a=b", "--token", token)
    listed = await sa.out("auth", "can-i", "--list", "--token", token)
    assert "configmaps" in listed and "selfsubjectreviews.authentication.k8s.io" in listed


async def test_aggregation_adds_a_labelled_cluster_roles_rules_to_view(
    kubectl_cp: tuple[ControlPlane, Kubectl],
) -> None:
    cp, k = kubectl_cp
    await k.out("create", "clusterrolebinding", "x-view", "--clusterrole=view", "--user=alice")
    assert (await k.run("auth", "can-i", "list", "runtimeclasses", "--as", "alice", check=False))[
        1
    ] == "no\n"
    await k.out(
        "create",
        "clusterrole",
        "runtimeclass-reader",
        "--verb=get,list,watch",
        "--resource=runtimeclasses.node.k8s.io",
    )
    await k.out(
        "label",
        "clusterrole",
        "runtimeclass-reader",
        "rbac.authorization.k8s.io/aggregate-to-view=true",
    )
    await wait_for_rules(cp, "view", "runtimeclasses")
    assert await k.out("auth", "can-i", "list", "runtimeclasses", "--as", "alice") == "yes\n"
    # view aggregates into edit, edit into admin.
    await wait_for_rules(cp, "admin", "runtimeclasses")


async def test_escalation_is_refused(kubectl_cp: tuple[ControlPlane, Kubectl]) -> None:
    _, k = kubectl_cp
    await k.out("create", "rolebinding", "bob-admin", "--clusterrole=admin", "--user=bob")
    # admin may create roles, but only with permissions bob holds.
    await k.out("create", "role", "reader", "--verb=get,list", "--resource=pods", "--as", "bob")
    rc, _, err = await k.run(
        "create",
        "role",
        "nodes",
        "--verb=get",
        "--resource=secrets,nodes",
        "--as",
        "bob",
        check=False,
    )
    assert rc != 0
    assert 'roles.rbac.authorization.k8s.io "nodes" is forbidden' in err
    assert "attempting to grant RBAC permissions not currently held" in err
    # Binding: bob may bind what he holds, not cluster-admin.
    await k.out(
        "create", "rolebinding", "carol-reader", "--role=reader", "--user=carol", "--as", "bob"
    )
    rc, _, err = await k.run(
        "create",
        "rolebinding",
        "carol-root",
        "--clusterrole=cluster-admin",
        "--user=carol",
        "--as",
        "bob",
        check=False,
    )
    assert rc != 0 and "attempting to grant RBAC permissions not currently held" in err
    # ... unless he may bind it.
    await k.out(
        "create",
        "clusterrole",
        "binder",
        "--verb=bind",
        "--resource=clusterroles",
        "--resource-name=cluster-admin",
    )
    await k.out("create", "rolebinding", "bob-binder", "--clusterrole=binder", "--user=bob")
    await k.out(
        "create",
        "rolebinding",
        "carol-root",
        "--clusterrole=cluster-admin",
        "--user=carol",
        "--as",
        "bob",
    )
    assert await k.out("auth", "can-i", "delete", "secrets", "--as", "carol") == "yes\n"
    assert (
        await k.run(
            "auth", "can-i", "delete", "secrets", "-n", "kube-system", "--as", "carol", check=False
        )
    )[1] == "no\n"


async def wait_for_rules(cp: ControlPlane, role: str, resource: str) -> None:
    """Until ClusterRole ``role`` has a rule about ``resource`` (the aggregation controller)."""
    import asyncio

    from kubelet_core._controlplane.resources import CLUSTERROLES
    from kubelet_core._controlplane.store import Event

    assert cp.store is not None
    changed = asyncio.Event()

    def has() -> bool:
        assert cp.store is not None
        entry = cp.store.get(CLUSTERROLES, "", role)
        rules = (entry.obj.get("rules") if entry else None) or ()
        return any(resource in (r.get("resources") or ()) for r in rules)

    def on_event(event: Event) -> None:
        if event.rt is CLUSTERROLES:
            changed.set()

    cp.store.add_listener(on_event)
    async with asyncio.timeout(10):
        while not has():
            await changed.wait()
            changed.clear()
