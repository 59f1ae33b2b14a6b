"""Deployments and ReplicaSets through kubectl: create, scale, rollout, undo, restart."""

from __future__ import annotations

import pytest

from tests.controlplane.workloads.conftest import Env, WorkloadProvider

pytestmark = pytest.mark.needs_kubectl


async def test_create_scale_and_columns(env: Env, node: WorkloadProvider) -> None:
    k = env.k
    assert "deployment.apps/web created" in await k.out(
        "create", "deployment", "web", "--image=example/web:1", "--replicas=3"
    )
    out = await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out
    d = await env.json("get", "deployment", "web")
    # Defaults as kube-apiserver applies them.
    assert d["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    status = d["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert status["observedGeneration"] == d["metadata"]["generation"]
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    header, row = (await k.out("get", "deploy", "web")).splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["web", "3/3", "3", "3"]
    rs_lines = (await k.out("get", "rs")).splitlines()
    assert rs_lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    rs = (await env.json("get", "rs"))["items"]
    assert len(rs) == 1
    pod_hash = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"web-{pod_hash}"
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    pods = await env.pods("app=web")
    assert len(pods) == 3
    assert all(p["metadata"]["ownerReferences"][0]["name"] == f"web-{pod_hash}" for p in pods)
    assert all(p["status"]["phase"] == "Running" for p in pods)

    assert "deployment.apps/web scaled" in await k.out("scale", "deployment/web", "--replicas=5")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    assert len(await env.pods("app=web")) == 5

    async def scaled_down() -> bool:
        running = [
            p for p in await env.pods("app=web") if not p["metadata"].get("deletionTimestamp")
        ]
        return len(running) == 2

    await k.out("scale", "rs", rs[0]["metadata"]["name"], "--replicas=2")  # the Deployment wins
    await k.out("scale", "deployment/web", "--replicas=2")
    await env.until(scaled_down)


async def test_rolling_update_history_undo_restart(env: Env, node: WorkloadProvider) -> None:
    k = env.k
    await k.out("create", "deployment", "web", "--image=example/web:1", "--replicas=4")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    await k.out("set", "image", "deployment/web", "web=example/web:2")
    # Copied to the new set only (the old one keeps the annotations of its time).
    await k.out("annotate", "deployment/web", "kubernetes.io/change-cause=v2")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    sets = (await env.json("get", "rs"))["items"]
    assert len(sets) == 2
    by_rev = {s["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: s for s in sets}
    assert by_rev["2"]["spec"]["template"]["spec"]["containers"][0]["image"] == "example/web:2"
    assert by_rev["1"]["spec"]["replicas"] == 0 and by_rev["2"]["spec"]["replicas"] == 4
    pods = await env.pods("app=web")
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"example/web:2"}
    history = await k.out("rollout", "history", "deployment/web")
    assert "1         <none>" in history and "2         v2" in history

    assert "rolled back" in await k.out("rollout", "undo", "deployment/web")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    d = await env.json("get", "deployment", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "example/web:1"
    sets = (await env.json("get", "rs"))["items"]
    revs = sorted(s["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for s in sets)
    assert revs == ["2", "3"], [
        s["spec"]["template"] for s in sets
    ]  # revision 1's set became the new one, as revision 3

    assert "restarted" in await k.out("rollout", "restart", "deployment/web")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    d = await env.json("get", "deployment", "web")
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    assert len((await env.json("get", "rs"))["items"]) == 3


async def test_rolling_update_stays_within_surge_and_unavailable(
    env: Env, node: WorkloadProvider
) -> None:
    """maxSurge 1 / maxUnavailable 0: never more than 5 pods, never fewer than 4 available."""
    k = env.k
    await k.out("create", "deployment", "web", "--image=example/web:1", "--replicas=4")
    await k.out(
        "patch",
        "deployment/web",
        "-p",
        '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}',
    )
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    store = env.cp.store
    assert store is not None
    from kubelet_core._controlplane.resources import DEPLOYMENTS, PODS

    worst = {"pods": 0, "available": 99}

    def observe(event: object) -> None:
        pods = [
            e.obj
            for e in store.entries(PODS, "default")
            if not e.obj["metadata"].get("deletionTimestamp")
            and e.obj["status"].get("phase") not in ("Succeeded", "Failed")
        ]
        worst["pods"] = max(worst["pods"], len(pods))
        d = store.get(DEPLOYMENTS, "default", "web")
        if d is not None and d.obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
            ":2"
        ):
            worst["available"] = min(
                worst["available"], d.obj["status"].get("availableReplicas", 0)
            )

    store.add_listener(observe)
    await k.out("set", "image", "deployment/web", "web=example/web:2")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    assert worst["pods"] <= 5
    assert worst["available"] >= 4


async def test_selector_immutable_and_must_match(env: Env) -> None:
    k = env.k
    await k.out("create", "deployment", "web", "--image=example/web:1")
    rc, _out, err = await k.run(
        "patch",
        "deployment/web",
        "--type=merge",
        "-p",
        '{"spec":{"selector":{"matchLabels":{"app":"other"}},'
        '"template":{"metadata":{"labels":{"app":"other"}}}}}',
        check=False,
    )
    assert rc != 0 and "spec.selector" in err and "field is immutable" in err
    manifest = env.k.workdir / "bad.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n"
        "  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n"
        "    spec: {containers: [{name: c, image: x}]}\n"
    )
    rc, _out, err = await k.run("apply", "-f", str(manifest), check=False)
    assert rc != 0
    assert "spec.template.metadata.labels" in err
    assert "`selector` does not match template `labels`" in err


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
async def test_delete_with_cascade(env: Env, node: WorkloadProvider, cascade: str) -> None:
    """Background and foreground take the ReplicaSet and pods along; orphan leaves them."""
    k = env.k
    await k.out("create", "deployment", "web", "--image=example/web:1", "--replicas=2")
    await k.out("rollout", "status", "deployment/web", "--timeout=60s")
    out = await k.out("delete", "deployment", "web", f"--cascade={cascade}", "--timeout=60s")
    assert 'deployment.apps "web" deleted' in out
    rc, _o, _e = await k.run("get", "deployment", "web", check=False)
    assert rc != 0

    async def sets_left() -> list[object]:
        items: list[object] = (await env.json("get", "rs"))["items"]
        return items

    if cascade == "orphan":
        (rs,) = await sets_left()
        assert isinstance(rs, dict)
        assert "ownerReferences" not in rs["metadata"]
        assert len(await env.pods("app=web")) == 2
        return

    async def gone() -> bool:
        return not await sets_left() and not await env.pods("app=web")

    await env.until(gone)
