"""LimitRange, ResourceQuota and PodDisruptionBudget with the eviction subresource.

Expectations follow kube-apiserver's documented behaviour and messages; all
over real HTTPS against the embedded control plane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, eventually, pod

NS = "/api/v1/namespaces/default"
PODS = f"{NS}/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Client(cp, session)


def limited(name: str, **resources: Any) -> dict[str, Any]:
    body = pod(name)
    body["spec"]["containers"][0]["resources"] = resources
    return body


LIMITS = {
    "metadata": {"name": "wasm"},
    "spec": {
        "limits": [
            {
                "type": "Container",
                "max": {"memory": "1Gi"},
                "default": {"memory": "256Mi", "cpu": "500m"},
                "defaultRequest": {"memory": "64Mi"},
            }
        ]
    },
}


async def test_limit_range_defaults_land_in_pods(client: Client) -> None:
    created = await client.ok("POST", f"{NS}/limitranges", LIMITS)
    # v1 defaulting: a defaultRequest from default where missing.
    assert created["spec"]["limits"][0]["defaultRequest"] == {"memory": "64Mi", "cpu": "500m"}
    body = pod("p")
    body["spec"]["initContainers"] = [{"name": "init", "image": "example/init:1"}]
    p = await client.ok("POST", PODS, body)
    for container in p["spec"]["containers"] + p["spec"]["initContainers"]:
        assert container["resources"] == {
            "limits": {"cpu": "500m", "memory": "256Mi"},
            "requests": {"cpu": "500m", "memory": "64Mi"},
        }
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container main; "
        "cpu, memory limit for container main; cpu, memory request for init container init; "
        "cpu, memory limit for init container init"
    )
    assert p["status"]["qosClass"] == "Burstable"
    # What a container sets itself is kept.
    own = await client.ok("POST", PODS, limited("own", limits={"memory": "512Mi"}))
    assert own["spec"]["containers"][0]["resources"]["limits"] == {
        "memory": "512Mi",
        "cpu": "500m",
    }
    assert own["spec"]["containers"][0]["resources"]["requests"]["memory"] == "512Mi"


async def test_limit_range_max_min_and_ratio_are_enforced(client: Client) -> None:
    await client.ok("POST", f"{NS}/limitranges", LIMITS)
    code, status = await client.post(PODS, limited("big", limits={"memory": "2Gi"}))
    assert code == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (
        'pods "big" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi'
    )
    await client.ok(
        "POST",
        f"{NS}/limitranges",
        {
            "metadata": {"name": "pod"},
            "spec": {
                "limits": [
                    {"type": "Pod", "max": {"memory": "1Gi"}},
                    {
                        "type": "Container",
                        "min": {"cpu": "100m"},
                        "maxLimitRequestRatio": {"cpu": "2"},
                    },
                ]
            },
        },
    )
    two = pod("two")
    two["spec"]["containers"] = [
        {"name": n, "image": "example/a:1", "resources": {"limits": {"memory": "768Mi"}}}
        for n in ("a", "b")
    ]
    code, status = await client.post(PODS, two)
    assert code == 403
    assert "maximum memory usage per Pod is 1Gi, but limit is 1536Mi" in status["message"]
    code, status = await client.post(
        PODS, limited("ratio", requests={"cpu": "100m"}, limits={"cpu": "1"})
    )
    assert code == 403
    assert status["message"] == (
        'pods "ratio" is forbidden: cpu max limit to request ratio per Container is 2, '
        "but provided ratio is 10.000000"
    )


async def test_limit_range_validation(client: Client) -> None:
    code, status = await client.post(
        f"{NS}/limitranges",
        {
            "metadata": {"name": "bad"},
            "spec": {
                "limits": [
                    {"type": "Container", "min": {"memory": "2Gi"}, "max": {"memory": "1Gi"}},
                    {"type": "Pod", "default": {"cpu": "1"}},
                ]
            },
        },
    )
    assert code == 422
    messages = [c["message"] for c in status["details"]["causes"]]
    assert 'Invalid value: "2Gi": min value 2Gi is greater than max value 1Gi' in messages
    assert "Forbidden: may not be specified when `type` is 'Pod'" in messages


async def test_resource_quota_admission_and_status(client: Client) -> None:
    quota = await client.ok(
        "POST",
        f"{NS}/resourcequotas",
        {
            "metadata": {"name": "compute"},
            "spec": {"hard": {"pods": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}},
        },
    )
    assert quota["kind"] == "ResourceQuota"
    code, status = await client.post(PODS, pod("bare"))
    assert code == 403
    assert status["message"] == (
        'pods "bare" is forbidden: failed quota: compute: must specify '
        "limits.memory,requests.memory"
    )
    await client.ok(
        "POST", PODS, limited("a", requests={"memory": "768Mi"}, limits={"memory": "1Gi"})
    )
    code, status = await client.post(
        PODS, limited("b", requests={"memory": "512Mi"}, limits={"memory": "1Gi"})
    )
    assert code == 403
    assert status["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.memory=512Mi, '
        "used: requests.memory=768Mi, limited: requests.memory=1Gi"
    )

    async def used() -> Any:
        q = await client.ok("GET", f"{NS}/resourcequotas/compute")
        return q if (q.get("status") or {}).get("used", {}).get("pods") == "1" else None

    q = await eventually(used)
    assert q["status"]["hard"] == {"pods": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}
    assert q["status"]["used"] == {"pods": "1", "requests.memory": "768Mi", "limits.memory": "1Gi"}
    await client.ok("DELETE", f"{PODS}/a")
    await client.ok(
        "POST", PODS, limited("b", requests={"memory": "512Mi"}, limits={"memory": "1Gi"})
    )


async def test_object_count_quota(client: Client) -> None:
    await client.ok(
        "POST",
        f"{NS}/resourcequotas",
        {"metadata": {"name": "objects"}, "spec": {"hard": {"count/configmaps": "2"}}},
    )
    # kube-root-ca.crt is one already.
    await client.ok("POST", f"{NS}/configmaps", {"metadata": {"name": "one"}})
    code, status = await client.post(f"{NS}/configmaps", {"metadata": {"name": "two"}})
    assert code == 403
    assert status["message"] == (
        'configmaps "two" is forbidden: exceeded quota: objects, requested: count/configmaps=1, '
        "used: count/configmaps=2, limited: count/configmaps=2"
    )


async def ready_pod(client: Client, name: str, labels: dict[str, str]) -> None:
    body = pod(name, nodeName="n1")
    body["metadata"]["labels"] = labels
    created = await client.ok("POST", PODS, body)
    created["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    await client.ok("PUT", f"{PODS}/{name}/status", created)


async def budget(client: Client, name: str, predicate: Any) -> Any:
    async def check() -> Any:
        pdb = await client.ok("GET", f"{PDBS}/{name}")
        status = pdb.get("status") or {}
        return pdb if status.get("observedGeneration") and predicate(status) else None

    return await eventually(check)


def eviction(name: str, **options: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
        "deleteOptions": options,
    }


async def test_pdb_status_and_eviction(client: Client) -> None:
    await add_node(client, "n1")
    for name in ("a", "b"):
        await ready_pod(client, name, {"app": "web"})
    await client.ok(
        "POST",
        PDBS,
        {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    pdb = await budget(client, "web", lambda s: s.get("expectedPods") == 2)
    status = pdb["status"]
    assert (status["currentHealthy"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        2,
        1,
        1,
    )
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "True",
        "SufficientPods",
    )
    # One disruption allowed: a is evicted (DisruptionTarget, then deleted with the options).
    code, _ = await client.post(f"{PODS}/a/eviction", eviction("a"))
    assert code == 201
    a = await client.ok("GET", f"{PODS}/a")
    assert a["metadata"]["deletionTimestamp"]
    target = next(c for c in a["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["reason"], target["message"]) == (
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )
    pdb = await budget(client, "web", lambda s: s.get("currentHealthy") == 1)
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert pdb["status"]["conditions"][0]["reason"] == "InsufficientPods"
    code, status = await client.post(f"{PODS}/b/eviction", eviction("b"))
    assert code == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web needs 1 healthy pods and has 1 currently",
        }
    ]
    assert "deletionTimestamp" not in (await client.ok("GET", f"{PODS}/b"))["metadata"]
    # No budget: eviction deletes with the given options (grace 0: gone at once).
    await ready_pod(client, "free", {"app": "other"})
    code, _ = await client.post(f"{PODS}/free/eviction", eviction("free", gracePeriodSeconds=0))
    assert code == 201
    assert (await client.get(f"{PODS}/free"))[0] == 404


async def test_pdb_validation_and_discovery(client: Client) -> None:
    code, status = await client.post(
        PDBS, {"metadata": {"name": "x"}, "spec": {"minAvailable": 1, "maxUnavailable": "150%"}}
    )
    assert code == 422
    messages = [c["message"] for c in status["details"]["causes"]]
    assert "Invalid value: minAvailable and maxUnavailable cannot be both set" in messages
    assert 'Invalid value: "150%": must not be greater than 100%' in messages
    resources = (await client.ok("GET", "/api/v1"))["resources"]
    evict = next(r for r in resources if r["name"] == "pods/eviction")
    assert (evict["group"], evict["version"], evict["kind"]) == ("policy", "v1", "Eviction")
    group = await client.ok("GET", "/apis/policy/v1")
    assert [r["name"] for r in group["resources"]] == [
        "poddisruptionbudgets",
        "poddisruptionbudgets/status",
    ]


async def test_kubectl_drain_respects_the_budget(tmp_path: Path, kubectl: str) -> None:
    from tests.controlplane.test_kubectl import Kubectl

    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        k = Kubectl(kubectl, cp.kubeconfig_path, tmp_path)
        await add_node(client, "n1")
        body = pod("web-1", nodeName="n1", terminationGracePeriodSeconds=0)
        body["metadata"]["labels"] = {"app": "web"}
        created = await client.ok("POST", PODS, body)
        created["status"] = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        await client.ok("PUT", f"{PODS}/web-1/status", created)
        await client.ok(
            "POST",
            PDBS,
            {
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
            },
        )
        await budget(client, "web", lambda s: s.get("expectedPods") == 1)
        rc, _out, err = await k.run(
            "drain", "n1", "--ignore-daemonsets", "--force", "--timeout=7s", check=False
        )
        assert rc != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in err
        assert (await client.get(f"{PODS}/web-1"))[0] == 200
        node = await client.ok("GET", "/api/v1/nodes/n1")
        assert node["spec"]["unschedulable"] is True  # cordoned first
        # The budget now allows it: the drain evicts and succeeds.
        pdb = await client.ok("GET", f"{PDBS}/web")
        pdb["spec"]["minAvailable"] = 0
        await client.ok("PUT", f"{PDBS}/web", pdb)
        await budget(client, "web", lambda s: s.get("disruptionsAllowed") == 1)
        out = await k.out("drain", "n1", "--ignore-daemonsets", "--force", "--timeout=30s")
        assert "pod/web-1 evicted" in out and "node/n1 drained" in out
        assert (await client.get(f"{PODS}/web-1"))[0] == 404
