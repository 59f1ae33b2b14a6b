"""v1 Endpoints in the embedded control plane, through kubectl over real HTTPS.

Expectations from Kubernetes' documentation: every Service with a selector has exactly
one Endpoints of its name (deprecated since 1.33, so the API server warns on each
request: "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice");
ready pods are ``addresses`` and unready ones ``notReadyAddresses`` (all ``addresses``
when the Service publishes not-ready addresses), terminating pods are dropped, and
addresses are grouped into subsets by the ports they offer; ``kubectl get endpoints``
prints ``NAME ENDPOINTS AGE`` with ``ip:port`` pairs. The ``kubernetes`` Service's
Endpoints is the API server's address, labelled ``endpointslice.kubernetes.io/skip-mirror``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, eventually, pod
from tests.controlplane.test_kubectl import Kubectl
from tests.controlplane.test_services import (
    NODE_IP,
    PODS,
    SERVICES,
    run_pod,
    service,
    set_ready,
    slices_of,
)

ENDPOINTS = "/api/v1/namespaces/default/endpoints"
DEPRECATION = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
WEB = """apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {tier: front}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
"""


class Env:
    def __init__(self, cp: ControlPlane, client: Client, k: Kubectl) -> None:
        self.cp, self.client, self.k = cp, client, k

    async def until(self, check: Any) -> Any:
        return await eventually(check, timeout=20, interval=0.05)

    async def endpoints(self, name: str) -> dict[str, Any] | None:
        rc, out, _err = await self.k.run("get", "endpoints", name, "-o", "json", check=False)
        found: dict[str, Any] | None = json.loads(out) if rc == 0 else None
        return found


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[Env]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        await add_node(client, "n1")
        yield Env(cp, client, Kubectl(kubectl, cp.kubeconfig_path, tmp_path))


def address(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {
        "ip": NODE_IP,
        "nodeName": "n1",
        "targetRef": {
            "kind": "Pod",
            "namespace": "default",
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }


async def test_endpoints_follow_the_pods(env: Env) -> None:
    await run_pod(env.client, "web-1", {"app": "web"}, ready=True)
    await run_pod(env.client, "web-2", {"app": "web"}, ready=False)
    web1, web2 = [await env.client.ok("GET", f"{PODS}/{n}") for n in ("web-1", "web-2")]
    await env.k.apply(WEB)
    port = [{"name": "http", "port": 8080, "protocol": "TCP"}]

    async def both_listed() -> Any:
        found = await env.endpoints("web")
        return found if found and found.get("subsets") else None

    ep = await env.until(both_listed)
    assert ep["subsets"] == [
        {"addresses": [address(web1)], "notReadyAddresses": [address(web2)], "ports": port}
    ]
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert "ownerReferences" not in ep["metadata"]
    # The first sync of a Service reports its creation as the change (TriggerTimeTracker),
    # on the Endpoints and on the slice written with it.
    svc = await env.client.ok("GET", f"{SERVICES}/web")
    trigger = ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
    assert parse_time(trigger) == parse_time(svc["metadata"]["creationTimestamp"])
    (slice_,) = await slices_of(env.client, "web")
    assert slice_["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": trigger
    }

    _rc, out, err = await env.k.run("get", "endpoints", "web")
    assert DEPRECATION in err
    header, row = out.splitlines()
    assert header.split() == ["NAME", "ENDPOINTS", "AGE"]
    assert row.split()[:2] == ["web", f"{NODE_IP}:8080"]
    described = await env.k.out("describe", "svc", "web")
    assert f"{NODE_IP}:8080" in next(
        line for line in described.splitlines() if line.startswith("Endpoints:")
    )

    # web-2 turns ready: both are addresses, and kubectl prints both pairs.
    await set_ready(env.client, web2, True)

    async def both_ready() -> Any:
        found = await env.endpoints("web")
        subsets = (found or {}).get("subsets") or []
        return subsets if subsets and len(subsets[0].get("addresses") or []) == 2 else None

    assert await env.until(both_ready) == [
        {"addresses": sorted([address(web1), address(web2)], key=_uid), "ports": port}
    ]
    row = (await env.k.out("get", "endpoints", "web", "--no-headers")).split()
    assert row[1] == f"{NODE_IP}:8080,{NODE_IP}:8080"

    # A terminating pod leaves the Endpoints (the EndpointSlice keeps it as terminating).
    await env.client.ok("DELETE", f"{PODS}/web-1")

    async def dropped() -> Any:
        found = await env.endpoints("web")
        subsets = (found or {}).get("subsets") or []
        return subsets if len(subsets) == 1 and len(subsets[0]["addresses"]) == 1 else None

    assert await env.until(dropped) == [{"addresses": [address(web2)], "ports": port}]

    # Deleted by hand: the controller writes it again; the Service deleted: it goes.
    await env.k.out("delete", "endpoints", "web")
    assert await env.until(lambda: env.endpoints("web"))
    await env.k.out("delete", "svc", "web")

    async def gone() -> bool:
        return await env.endpoints("web") is None

    assert await env.until(gone)


def _uid(address: dict[str, Any]) -> str:
    uid: str = address["targetRef"]["uid"]
    return uid


async def test_the_kubernetes_endpoints_are_the_api_server(env: Env) -> None:
    ep = await env.endpoints("kubernetes")
    assert ep is not None
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert ep["subsets"] == [
        {
            "addresses": [{"ip": env.cp.host}],
            "ports": [{"name": "https", "port": env.cp.port, "protocol": "TCP"}],
        }
    ]
    rows = (await env.k.out("get", "endpoints", "--no-headers")).splitlines()
    assert [r.split()[:2] for r in rows] == [["kubernetes", f"{env.cp.host}:{env.cp.port}"]]


async def test_subsets_headless_publish_and_selectorless(env: Env) -> None:
    client = env.client
    await run_pod(client, "v1", {"app": "api"}, ready=True)
    body = pod("v2", nodeName="n1")
    body["metadata"]["labels"] = {"app": "api"}
    body["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    await set_ready(client, await client.ok("POST", PODS, body), False)
    v1, v2 = [await client.ok("GET", f"{PODS}/{n}") for n in ("v1", "v2")]
    http = {"name": "web", "port": 80, "targetPort": "http"}
    await client.ok(
        "POST",
        SERVICES,
        service("api", http, selector={"app": "api"}, clusterIP="None"),
    )
    await client.ok(
        "POST",
        SERVICES,
        service("all", http, selector={"app": "api"}, publishNotReadyAddresses=True),
    )

    async def subsets_of(name: str, count: int) -> Any:
        found = await env.endpoints(name)
        subsets = (found or {}).get("subsets") or []
        return found if len(subsets) == count else None

    # The named port resolves to 8080 on v1 and 9090 on v2: one subset per port set.
    api = await env.until(lambda: subsets_of("api", 2))
    assert api["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    by_port = {s["ports"][0]["port"]: s for s in api["subsets"]}
    assert by_port[8080] == {
        "addresses": [address(v1)],
        "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
    }
    assert by_port[9090] == {
        "notReadyAddresses": [address(v2)],
        "ports": [{"name": "web", "port": 9090, "protocol": "TCP"}],
    }
    published = await env.until(lambda: subsets_of("all", 2))
    assert all("notReadyAddresses" not in s for s in published["subsets"])

    # A Service without a selector: its Endpoints are the user's, left as written.
    await client.ok("POST", SERVICES, service("external", {"port": 5432}))
    manual = {
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}],
    }
    await client.ok("POST", ENDPOINTS, manual)
    row = (await env.k.out("get", "endpoints", "external", "--no-headers")).split()
    assert row[1] == "192.0.2.10:5432"


async def test_endpoints_without_a_service_go_at_start(tmp_path: Path) -> None:
    leftover = {
        "metadata": {"name": "leftover"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}],
    }
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        await Client(cp, s).ok("POST", ENDPOINTS, leftover)
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        client = Client(cp, s)

        async def deleted() -> bool:
            status, _body = await client.get(f"{ENDPOINTS}/leftover")
            return status == 404

        assert await eventually(deleted, timeout=20)


async def test_every_endpoints_request_warns_watches_and_errors_too(env: Env) -> None:
    """kube-apiserver wraps each verb's handler of a deprecated type in its warnings
    handler: the deprecation goes out on a watch stream's headers, on an error the
    handler answers, and before the handler's own warnings."""
    header = f'299 - "{DEPRECATION}"'
    watch = await env.client.watch(ENDPOINTS)
    try:
        assert watch.resp.headers.getall("Warning") == [header]
    finally:
        watch.close()
    async with env.client.session.get(
        env.cp.url + ENDPOINTS + "/absent", ssl=env.client.ssl
    ) as resp:
        assert (resp.status, resp.headers.getall("Warning")) == (404, [header])
    body = {"metadata": {"name": "manual"}, "subsets": [], "bogus": 1}
    async with env.client.session.post(
        env.cp.url + ENDPOINTS, json=body, ssl=env.client.ssl
    ) as resp:
        assert resp.status == 201
        assert resp.headers.getall("Warning") == [header, '299 - "unknown field \\"bogus\\""']
    # Other types stay quiet.
    async with env.client.session.get(
        env.cp.url + SERVICES, params={"watch": "1"}, ssl=env.client.ssl
    ) as resp:
        assert "Warning" not in resp.headers
