"""v1 Services and discovery.k8s.io/v1 EndpointSlices in the embedded control plane.

Expectations follow kube-apiserver (defaults, ClusterIP and NodePort allocation and
their messages, ``kubectl get svc`` columns) and kube-controller-manager's EndpointSlice
controller (one slice per Service, endpoints from the selected pods' readiness). All over
real HTTPS; the kubectl tests run the real binary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, eventually, pod
from tests.controlplane.test_kubectl import Kubectl

NS = "/api/v1/namespaces/default"
SERVICES = f"{NS}/services"
PODS = f"{NS}/pods"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
APPLIED = f"{SERVICES}/applied"
MANIFEST = """apiVersion: v1
kind: Service
metadata:
  name: applied
  labels: {revision: "LABEL"}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: https, port: 443}
"""
NODE_IP = "127.0.0.1"  # the InternalIP add_node gives; a wasm pod's IP is its node's


def service(name: str, *ports: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": list(ports), **spec}}


async def run_pod(client: Client, name: str, labels: dict[str, str], *, ready: bool) -> None:
    """A pod bound to n1 and running on its node's IP, listening on a port named http."""
    body = pod(name, nodeName="n1")
    body["metadata"]["labels"] = labels
    body["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    created = await client.ok("POST", PODS, body)
    await set_ready(client, created, ready)


async def set_ready(client: Client, current: dict[str, Any], ready: bool) -> None:
    current["status"] = {
        "phase": "Running",
        "hostIP": NODE_IP,
        "podIP": NODE_IP,
        "podIPs": [{"ip": NODE_IP}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    await client.ok("PUT", f"{PODS}/{current['metadata']['name']}/status", current)


async def slices_of(client: Client, name: str) -> list[dict[str, Any]]:
    found = await client.ok(
        "GET", SLICES, params={"labelSelector": f"kubernetes.io/service-name={name}"}
    )
    items: list[dict[str, Any]] = found["items"]
    return items


def endpoints_by_pod(slices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["targetRef"]["name"]: e for s in slices for e in s.get("endpoints") or []}


async def test_defaults_and_cluster_ip_allocation(client: Client) -> None:
    created = await client.ok("POST", SERVICES, service("web", {"port": 80}))
    spec = created["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    ip = spec["clusterIP"]
    assert spec["clusterIPs"] == [ip]
    assert ip.startswith("10.") and ip != "10.96.0.1"
    octets = [int(o) for o in ip.split(".")]
    assert 96 <= octets[1] <= 111  # inside 10.96.0.0/12

    status, err = await client.post(SERVICES, service("copy", {"port": 80}, clusterIP=ip))
    assert status == 422, err
    assert err["message"] == (
        f'Service "copy" is invalid: spec.clusterIPs: Invalid value: []string{{"{ip}"}}: '
        f"failed to allocate IP {ip}: provided IP is already allocated"
    )
    status, err = await client.post(SERVICES, service("far", {"port": 80}, clusterIP="10.0.0.5"))
    assert status == 422
    assert "the provided IP (10.0.0.5) is not in the valid range" in err["message"]

    # The address is immutable, kept by an update that leaves it out, released on delete.
    current = await client.ok("GET", f"{SERVICES}/web")
    del current["spec"]["clusterIP"], current["spec"]["clusterIPs"]
    updated = await client.ok("PUT", f"{SERVICES}/web", current)
    assert updated["spec"]["clusterIP"] == ip
    updated["spec"]["clusterIP"] = updated["spec"]["clusterIPs"][0] = "10.96.0.77"
    status, err = await client.put(f"{SERVICES}/web", updated)
    assert status == 422 and "may not change once set" in err["message"]
    # status is a subresource: a status write changes only the status.
    current = await client.ok("GET", f"{SERVICES}/web")
    current["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}
    current["spec"]["sessionAffinity"] = "ClientIP"
    written = await client.ok("PUT", f"{SERVICES}/web/status", current)
    assert written["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.7"}]
    assert written["spec"]["sessionAffinity"] == "None"

    await client.ok("DELETE", f"{SERVICES}/web")
    again = await client.ok("POST", SERVICES, service("copy", {"port": 80}, clusterIP=ip))
    assert again["spec"]["clusterIP"] == ip


async def test_the_kubernetes_service_points_at_the_api_server(client: Client) -> None:
    svc = await client.ok("GET", f"{SERVICES}/kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    (slice_,) = await slices_of(client, "kubernetes")
    assert slice_["endpoints"][0]["addresses"] == [client.cp.host]
    assert slice_["ports"] == [{"name": "https", "port": client.cp.port, "protocol": "TCP"}]


async def test_node_ports(client: Client) -> None:
    spec = {"type": "NodePort"}
    fixed = await client.ok(
        "POST", SERVICES, service("fixed", {"port": 80, "nodePort": 30080}, **spec)
    )
    assert fixed["spec"]["ports"][0]["nodePort"] == 30080
    assert fixed["spec"]["externalTrafficPolicy"] == "Cluster"
    picked = await client.ok("POST", SERVICES, service("picked", {"port": 80}, **spec))
    assert 30000 <= picked["spec"]["ports"][0]["nodePort"] <= 32767
    assert picked["spec"]["ports"][0]["nodePort"] != 30080

    status, err = await client.post(
        SERVICES, service("dup", {"port": 81, "nodePort": 30080}, **spec)
    )
    assert status == 422
    assert err["message"] == (
        'Service "dup" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    )
    status, err = await client.post(SERVICES, service("low", {"port": 81, "nodePort": 80}, **spec))
    assert status == 422 and "provided port is not in the valid range" in err["message"]
    status, err = await client.post(SERVICES, service("cip", {"port": 81, "nodePort": 30081}))
    assert status == 422 and "may not be used when `type` is 'ClusterIP'" in err["message"]

    # Back to ClusterIP: the allocated node port the client sends back is dropped.
    picked["spec"]["type"] = "ClusterIP"
    del picked["spec"]["externalTrafficPolicy"]
    back = await client.ok("PUT", f"{SERVICES}/picked", picked)
    assert "nodePort" not in back["spec"]["ports"][0]

    await client.ok("DELETE", f"{SERVICES}/fixed")
    reused = await client.ok(
        "POST", SERVICES, service("dup", {"port": 81, "nodePort": 30080}, **spec)
    )
    assert reused["spec"]["ports"][0]["nodePort"] == 30080


async def test_headless_and_validation(client: Client) -> None:
    headless = await client.ok(
        "POST", SERVICES, service("db", clusterIP="None", selector={"app": "db"})
    )
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["clusterIPs"] == ["None"]

    async def placeholder() -> Any:
        slices = await slices_of(client, "db")
        return slices if len(slices) == 1 and slices[0].get("endpoints") is None else None

    await eventually(placeholder)  # selected pods: none yet, so one empty slice

    status, err = await client.post(SERVICES, service("empty"))
    assert status == 422
    assert err["message"] == 'Service "empty" is invalid: spec.ports: Required value'
    status, err = await client.post(
        SERVICES, service("two", {"name": "a", "port": 80}, {"name": "a", "port": 81})
    )
    assert status == 422
    assert err["message"] == 'Service "two" is invalid: spec.ports[1].name: Duplicate value: "a"'
    status, err = await client.post(SERVICES, service("unnamed", {"port": 80}, {"port": 81}))
    assert status == 422 and "spec.ports[0].name: Required value" in err["message"]
    status, err = await client.post(SERVICES, service("bad", {"port": 80}, selector={"app": "a b"}))
    assert status == 422 and err["message"].startswith(
        'Service "bad" is invalid: spec.selector: Invalid value: "a b"'
    )


async def test_endpoint_slice_address_type(client: Client) -> None:
    body = {"metadata": {"name": "manual"}, "addressType": "IPv5", "endpoints": []}
    status, err = await client.post(SLICES, body)
    assert status == 422
    assert err["message"] == (
        'EndpointSlice.discovery.k8s.io "manual" is invalid: addressType: Unsupported value: '
        '"IPv5": supported values: "FQDN", "IPv4", "IPv6"'
    )
    body["addressType"] = "IPv4"
    created = await client.ok("POST", SLICES, body)
    created["addressType"] = "IPv6"
    status, err = await client.put(f"{SLICES}/manual", created)
    assert status == 422 and "field is immutable" in err["message"]


async def test_endpoint_slice_follows_ready_pods(client: Client) -> None:
    await add_node(client, "n1")
    await run_pod(client, "web-1", {"app": "web"}, ready=True)
    await run_pod(client, "web-2", {"app": "web"}, ready=True)
    await run_pod(client, "other", {"app": "other"}, ready=True)
    svc = await client.ok(
        "POST",
        SERVICES,
        service("web", {"name": "http", "port": 80, "targetPort": "http"}, selector={"app": "web"}),
    )

    async def both_ready() -> Any:
        slices = await slices_of(client, "web")
        eps = endpoints_by_pod(slices)
        return slices if set(eps) == {"web-1", "web-2"} else None

    (slice_,) = await eventually(both_ready)
    meta = slice_["metadata"]
    assert meta["name"].startswith("web-")
    assert meta["labels"]["endpointslice.kubernetes.io/managed-by"] == (
        "endpointslice-controller.k8s.io"
    )
    assert meta["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert meta["ownerReferences"][0]["kind"] == "Service"
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    one = endpoints_by_pod([slice_])["web-1"]
    assert one["addresses"] == [NODE_IP]
    assert one["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert one["nodeName"] == "n1"
    assert one["targetRef"]["kind"] == "Pod"

    # Unready: still listed, ready=false.
    current = await client.ok("GET", f"{PODS}/web-1")
    await set_ready(client, current, False)

    async def unready() -> Any:
        eps = endpoints_by_pod(await slices_of(client, "web"))
        return eps.get("web-1", {}).get("conditions", {}).get("ready") is False

    await eventually(unready)

    # Gracefully deleting: terminating; gone: removed.
    await client.ok("DELETE", f"{PODS}/web-2")

    async def terminating() -> Any:
        eps = endpoints_by_pod(await slices_of(client, "web"))
        return eps.get("web-2", {}).get("conditions") == {
            "ready": False,
            "serving": True,
            "terminating": True,
        }

    await eventually(terminating)
    await client.ok("DELETE", f"{PODS}/web-2", {"gracePeriodSeconds": 0})

    async def removed() -> Any:
        return set(endpoints_by_pod(await slices_of(client, "web"))) == {"web-1"}

    await eventually(removed)

    # The Service's slices go with it (controller ownerReference, garbage collector).
    await client.ok("DELETE", f"{SERVICES}/web")

    async def collected() -> Any:
        return await slices_of(client, "web") == []

    await eventually(collected)


async def test_kubectl_create_expose_and_get(tmp_path: Path, kubectl: str) -> None:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        k = Kubectl(kubectl, cp.kubeconfig_path, tmp_path)
        assert "service/web created" in await k.out(
            "create", "service", "clusterip", "web", "--tcp=80:8080"
        )
        assert "service/np created" in await k.out(
            "create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"
        )
        web = await client.ok("GET", f"{SERVICES}/web")
        assert web["spec"]["ports"][0]["targetPort"] == 8080
        lines = (await k.out("get", "svc")).splitlines()
        assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        assert rows["kubernetes"][1:5] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
        assert rows["web"][1:5] == ["ClusterIP", web["spec"]["clusterIP"], "<none>", "80/TCP"]
        assert rows["np"][1] == "NodePort" and rows["np"][4] == "80:30080/TCP"
        rc, _out, err = await k.run(
            "create",
            "service",
            "nodeport",
            "np2",
            "--tcp=81:8080",
            "--node-port=30080",
            check=False,
        )
        assert rc != 0 and "provided port is already allocated" in err

        # kubectl apply again (a merge patch without the allocated values) keeps them;
        # patching to ClusterIP drops the node ports.
        before = (await k.apply(MANIFEST.replace("LABEL", "1")), await client.ok("GET", APPLIED))
        assert "service/applied created" in before[0]
        assert "service/applied configured" in await k.apply(MANIFEST.replace("LABEL", "2"))
        after = await client.ok("GET", APPLIED)
        assert after["spec"]["clusterIP"] == before[1]["spec"]["clusterIP"]
        assert after["spec"]["ports"] == before[1]["spec"]["ports"]
        await k.out("patch", "svc", "applied", "-p", '{"spec":{"type":"ClusterIP"}}')
        row = (await k.out("get", "svc", "applied", "--no-headers")).split()
        assert row[1] == "ClusterIP" and row[4] == "80/TCP,443/TCP"

        await add_node(client, "n1")
        await run_pod(client, "api-1", {"app": "api"}, ready=True)
        assert "service/api exposed" in await k.out(
            "expose", "pod", "api-1", "--name=api", "--port=80", "--target-port=http"
        )

        async def listed() -> Any:
            out = await k.out("get", "endpointslices", "-l", "kubernetes.io/service-name=api")
            return out if f"{NODE_IP}" in out else None

        out = await eventually(listed, timeout=20)
        header, row = out.splitlines()[:2]
        assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        assert row.split()[1:4] == ["IPv4", "8080", NODE_IP]


async def test_a_named_port_resolving_differently_splits_the_slices(client: Client) -> None:
    """Pods whose ``http`` containerPort differs land in slices with different ports."""
    await add_node(client, "n1")
    await run_pod(client, "v1", {"app": "api"}, ready=True)
    body = pod("v2", nodeName="n1")
    body["metadata"]["labels"] = {"app": "api"}
    body["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    await set_ready(client, await client.ok("POST", PODS, body), True)
    await client.ok(
        "POST",
        SERVICES,
        service("api", {"name": "web", "port": 80, "targetPort": "http"}, selector={"app": "api"}),
    )

    async def split() -> Any:
        slices = await slices_of(client, "api")
        by_port = {
            s["ports"][0]["port"]: [e["targetRef"]["name"] for e in s["endpoints"]]
            for s in slices
            if s.get("ports")
        }
        return by_port if len(slices) == 2 else None

    assert await eventually(split) == {8080: ["v1"], 9090: ["v2"]}


async def test_a_host_port_is_where_the_wasm_pod_listens(client: Client) -> None:
    """The pod shares its node's network: a containerPort's hostPort is the endpoint port."""
    await add_node(client, "n1")
    body = pod("actor", nodeName="n1")
    body["metadata"]["labels"] = {"app": "actor"}
    body["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 18080}]
    await set_ready(client, await client.ok("POST", PODS, body), True)
    await client.ok(
        "POST",
        SERVICES,
        service("actor", {"port": 80, "targetPort": 8080}, selector={"app": "actor"}),
    )

    async def port() -> Any:
        slices = await slices_of(client, "actor")
        return slices[0]["ports"] if slices and slices[0].get("endpoints") else None

    assert await eventually(port) == [{"name": "", "port": 18080, "protocol": "TCP"}]


async def test_restart_keeps_addresses_and_follows_the_api_port(tmp_path: Path) -> None:
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        client = Client(cp, s)
        ip = (await client.ok("POST", SERVICES, service("web", {"port": 80})))["spec"]["clusterIP"]
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp, aiohttp.ClientSession() as s:
        client = Client(cp, s)
        assert (await client.ok("GET", f"{SERVICES}/web"))["spec"]["clusterIP"] == ip
        (slice_,) = await slices_of(client, "kubernetes")
        assert slice_["ports"][0]["port"] == cp.port
        status, _err = await client.post(SERVICES, service("copy", {"port": 80}, clusterIP=ip))
        assert status == 422


async def test_every_service_has_a_load_balancer_status(tmp_path: Path, kubectl: str) -> None:
    """kube-apiserver clears a Service's status on create and always writes
    ``status.loadBalancer`` (a Go struct, never omitted), ExternalName included."""
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        k = Kubectl(kubectl, cp.kubeconfig_path, tmp_path)
        await k.out("create", "service", "externalname", "ext", "--external-name=example.com")
        ext = json.loads(await k.out("get", "svc", "ext", "-o", "json"))
        assert ext["spec"]["type"] == "ExternalName"
        assert ext["status"] == {"loadBalancer": {}}
        body = service("claims", {"port": 80})
        body["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
        created = await client.ok("POST", SERVICES, body)
        assert created["status"] == {"loadBalancer": {}}
        created["status"] = {}
        written = await client.ok("PUT", f"{SERVICES}/claims/status", created)
        assert written["status"] == {"loadBalancer": {}}
        listed = json.loads(await k.out("get", "svc", "-o", "json"))["items"]
        assert {s["metadata"]["name"]: s["status"] for s in listed} == {
            "claims": {"loadBalancer": {}},
            "ext": {"loadBalancer": {}},
            "kubernetes": {"loadBalancer": {}},
        }
