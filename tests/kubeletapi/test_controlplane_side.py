"""The control plane's half: pod logs proxied to the kubelet, and metrics.k8s.io.

A test-local aiohttp app holds a few pods and a node and serves only the routes
this project adds to the control plane (``kubelet_proxy`` and ``metrics_api``),
reaching a real :class:`KubeletApiServer` over HTTPS with the kubelet-client
certificate, whose access the kubelet checks with a real SubjectAccessReview.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelet_core._controlplane import metrics_api
from kubelet_core._controlplane.kubelet_proxy import (
    KubeletClient,
    ensure_kubelet_client_certificate,
    kubelet_endpoint,
    pod_log_route,
)
from kubelet_core._kubeletapi import KubeletApiServer
from tests.kubeletapi.conftest import NODE, FileLogProvider, Pki, ReviewServer

KubeObject = dict[str, Any]


def pod(name: str, *containers: str, node: str = NODE, **labels: str) -> KubeObject:
    return {
        "metadata": {"namespace": "default", "name": name, "uid": f"uid-{name}", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": c} for c in containers]},
    }


class Objects:
    def __init__(self, server: KubeletApiServer) -> None:
        node = {
            "metadata": {"name": NODE, "labels": {"kubernetes.io/arch": "wasm32-wasi"}},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "nowhere.invalid"},
                    {"type": "InternalIP", "address": "127.0.0.1"},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}},
            },
        }
        self.store: dict[tuple[str, str, str], KubeObject] = {("nodes", "", NODE): node}
        for obj in (
            pod("web", "app", "sidecar", app="web"),
            pod("solo", "main", app="solo"),
            pod("pending", "main", node=""),
        ):
            self.store[("pods", "default", obj["metadata"]["name"])] = obj
        self.store[("pods", "default", "web")]["spec"]["initContainers"] = [{"name": "setup"}]

    def get(self, plural: str, namespace: str, name: str) -> KubeObject | None:
        return self.store.get((plural, namespace, name))

    def list(self, plural: str, namespace: str | None) -> Iterable[KubeObject]:
        return [
            obj
            for (p, ns, _), obj in self.store.items()
            if p == plural and (namespace is None or ns == namespace)
        ]


@pytest.fixture
async def control_plane(
    server: KubeletApiServer, pki: Pki, tmp_path: Path
) -> AsyncIterator[tuple[str, Objects]]:
    cert, key = ensure_kubelet_client_certificate(pki.ca.cert, pki.ca.key, tmp_path / "cp")
    client = KubeletClient(cert, key)
    objects = Objects(server)
    app = web.Application()
    app.add_routes([pod_log_route(objects.get, client)])
    app.add_routes(
        metrics_api.MetricsApi(
            get_object=objects.get, list_objects=objects.list, client=client
        ).routes()
    )
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", objects
    finally:
        await runner.cleanup()
        await client.close()


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, str]:
    async with http.get(url, params=params) as response:
        return response.status, await response.text()


LOG = "one\ntwo\nthree\n"


async def test_pod_log_is_proxied_with_its_options(
    control_plane: tuple[str, Objects],
    http: aiohttp.ClientSession,
    provider: FileLogProvider,
    review_server: ReviewServer,
) -> None:
    base, _ = control_plane
    await provider.append("default", "solo", "main", LOG)
    await provider.append("default", "web", "sidecar", LOG)
    logs = f"{base}/api/v1/namespaces/default/pods"
    assert await get(http, f"{logs}/solo/log") == (200, LOG)  # the only container
    assert await get(http, f"{logs}/solo/log", tailLines="1") == (200, "three\n")
    assert await get(http, f"{logs}/web/log", container="sidecar", limitBytes="5") == (
        200,
        "one\nt",
    )
    options = provider.options[-1]
    assert (options.limit_bytes, options.tail_lines) == (5, None)
    # The kubelet asked the control plane whether the kubelet-client may read logs.
    assert "/apis/authorization.k8s.io/v1/subjectaccessreviews" in review_server.requests


async def test_pod_log_errors_are_the_real_servers(
    control_plane: tuple[str, Objects], http: aiohttp.ClientSession
) -> None:
    base, _ = control_plane
    logs = f"{base}/api/v1/namespaces/default/pods"
    status, body = await get(http, f"{logs}/web/log")
    assert status == 400
    assert json.loads(body)["message"] == (
        "a container name must be specified for pod web, choose one of: [app sidecar]"
        " or one of the init containers: [setup]"
    )
    status, body = await get(http, f"{logs}/web/log", container="nope")
    assert (status, json.loads(body)["message"]) == (
        400,
        "container nope is not valid for pod web",
    )
    status, body = await get(http, f"{logs}/ghost/log")
    assert status == 404
    assert json.loads(body)["message"] == 'pods "ghost" not found'
    # Known to the API, unknown to the kubelet: the kubelet's 404 comes back as a Status.
    status, body = await get(http, f"{logs}/web/log", container="app")
    assert status == 404
    assert json.loads(body)["reason"] == "NotFound"
    assert await get(http, f"{logs}/pending/log") == (200, "")


async def test_followed_pod_log_streams_through(
    control_plane: tuple[str, Objects], http: aiohttp.ClientSession, provider: FileLogProvider
) -> None:
    base, _ = control_plane
    await provider.append("default", "solo", "main", "first\n")
    url = f"{base}/api/v1/namespaces/default/pods/solo/log"
    async with http.get(url, params={"follow": "true"}) as response:
        assert response.status == 200
        assert await asyncio.wait_for(response.content.readline(), 5) == b"first\n"
        await provider.append("default", "solo", "main", "second\n")
        assert await asyncio.wait_for(response.content.readline(), 5) == b"second\n"
    await asyncio.wait_for(provider.stream_closed.wait(), 5)


async def test_node_and_pod_metrics(
    control_plane: tuple[str, Objects], http: aiohttp.ClientSession
) -> None:
    base, _ = control_plane
    prefix = f"{base}/apis/metrics.k8s.io/v1beta1"
    status, body = await get(http, f"{prefix}/nodes")
    assert status == 200
    nodes = json.loads(body)
    assert nodes["kind"] == "NodeMetricsList"
    [node] = nodes["items"]
    assert node["metadata"]["name"] == NODE
    assert node["usage"]["cpu"].endswith("n")
    assert node["usage"]["memory"].endswith("Ki")
    assert (await get(http, f"{prefix}/nodes", labelSelector="kubernetes.io/arch=arm64"))[
        1
    ] == json.dumps(
        {
            "kind": "NodeMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": [],
        }
    )

    # The test provider reports usage for default/web only.
    status, body = await get(http, f"{prefix}/namespaces/default/pods")
    assert status == 200
    [web_metrics] = json.loads(body)["items"]
    assert web_metrics["kind"] == "PodMetrics"
    assert web_metrics["metadata"]["labels"] == {"app": "web"}
    assert web_metrics["containers"] == [
        {"name": "app", "usage": {"cpu": "0n", "memory": "4096Ki"}},
        {"name": "sidecar", "usage": {"cpu": "7n", "memory": "1024Ki"}},
    ]
    assert (
        json.loads((await get(http, f"{prefix}/pods", labelSelector="app!=web"))[1])["items"] == []
    )
    status, body = await get(http, f"{prefix}/namespaces/default/pods/web")
    assert status == 200 and json.loads(body)["metadata"]["name"] == "web"
    status, body = await get(http, f"{prefix}/namespaces/default/pods/solo")
    assert status == 404
    assert json.loads(body)["message"] == 'podmetrics.metrics.k8s.io "solo" not found'
    assert (await get(http, f"{prefix}/nodes/other"))[0] == 404


async def test_discovery_documents(
    control_plane: tuple[str, Objects], http: aiohttp.ClientSession
) -> None:
    base, _ = control_plane
    group = json.loads((await get(http, f"{base}/apis/metrics.k8s.io"))[1])
    assert group["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"
    resources = json.loads((await get(http, f"{base}/apis/metrics.k8s.io/v1beta1"))[1])
    assert {(r["name"], r["kind"], r["namespaced"]) for r in resources["resources"]} == {
        ("nodes", "NodeMetrics", False),
        ("pods", "PodMetrics", True),
    }
    scopes = {
        r["resource"]: r["scope"] for r in metrics_api.group_discovery()["versions"][0]["resources"]
    }
    assert scopes == {"nodes": "Cluster", "pods": "Namespaced"}


def test_kubelet_client_certificate_is_made_once(pki: Pki, tmp_path: Path) -> None:
    cert, key = ensure_kubelet_client_certificate(pki.ca.cert, pki.ca.key, tmp_path / "c")
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    subject = parsed.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "kube-apiserver-kubelet-client"
    )
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert (key.stat().st_mode & 0o777) == 0o600
    again = ensure_kubelet_client_certificate(pki.ca.cert, pki.ca.key, tmp_path / "c")
    assert again == (cert, key)
    assert x509.load_pem_x509_certificate(cert.read_bytes()) == parsed


def test_kubelet_endpoint_prefers_internal_ip() -> None:
    node = {
        "metadata": {"name": "n"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "n"},
                {"type": "ExternalIP", "address": "127.0.0.2"},
                {"type": "InternalIP", "address": "127.0.0.1"},
            ]
        },
    }
    assert kubelet_endpoint(node) == ("127.0.0.1", 10250)
