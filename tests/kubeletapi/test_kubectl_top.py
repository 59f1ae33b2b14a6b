"""``kubectl top`` against metrics.k8s.io served from the nodes' ``/stats/summary``.

Until the lead wires :mod:`kubelet_core._controlplane.metrics_api` into the
ControlPlane's application, a thin front stands in for exactly that wiring: it
serves the metrics routes and adds the group to ``/apis``, and forwards every
other GET to the real ControlPlane.  kubectl, the ControlPlane, the kubelet API
and its authorization are all real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from kubelet_core._apiclient import KubeApi
from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.kubelet_proxy import (
    KubeletClient,
    ensure_kubelet_client_certificate,
    store_reader,
)
from kubelet_core._controlplane.metrics_api import MetricsApi, api_group, store_lister
from kubelet_core._kubeletapi import KubeletApiServer
from tests.kubeletapi.conftest import NODE, FileLogProvider

pytestmark = pytest.mark.needs_kubectl


@pytest.fixture
async def front(
    tmp_path: Path, provider: FileLogProvider, review_api: KubeApi
) -> AsyncIterator[Path]:
    """A kubeconfig whose server is the front of a ControlPlane with one node and pods."""
    cp = ControlPlane(tmp_path / "cp", port=0, scheduler=False)
    cp.pki.ensure_ca()
    cert, key = ensure_kubelet_client_certificate(
        cp.pki.ca_cert_path, cp.pki.ca_key_path, tmp_path / "cp" / "pki"
    )
    client = KubeletClient(cert, key)
    kubelet = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "kubelet",
        client_ca_file=cp.pki.ca_cert_path,
        api=review_api,
    )
    async with cp, kubelet, aiohttp.ClientSession() as session:
        api = await KubeApi.from_kubeconfig(cp.kubeconfig_path)
        try:
            await api.request("POST", "/api/v1/nodes", body={"metadata": {"name": NODE}})
            status = {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
                "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            }
            await api.request("PATCH", f"/api/v1/nodes/{NODE}/status", body={"status": status})
            for name in ("web", "idle"):
                body = {
                    "metadata": {"name": name},
                    "spec": {
                        "nodeName": NODE,
                        "containers": [{"name": "app", "image": "example/wasm:1"}],
                    },
                }
                await api.request("POST", "/api/v1/namespaces/default/pods", body=body)
        finally:
            await api.close()

        admin_ssl = cp.pki.client_ssl_context()

        async def forward(request: web.Request) -> web.Response:
            async with session.request(
                request.method,
                cp.url + request.path_qs,
                ssl=admin_ssl,
                headers={"Accept": "application/json"},
            ) as answer:
                body = await answer.read()
                if request.path.rstrip("/") == "/apis" and answer.status == 200:
                    groups = json.loads(body)
                    entry = api_group()
                    del entry["kind"], entry["apiVersion"]
                    groups["groups"].append(entry)
                    body = json.dumps(groups).encode()
                return web.Response(
                    body=body, status=answer.status, content_type="application/json"
                )

        metrics = MetricsApi(
            get_object=store_reader(lambda: cp.store),
            list_objects=store_lister(lambda: cp.store),
            client=client,
        )
        app = web.Application()
        app.add_routes(metrics.routes())
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        config = yaml.safe_load(cp.kubeconfig_path.read_text())
        config["clusters"][0]["cluster"] = {"server": f"http://127.0.0.1:{runner.addresses[0][1]}"}
        kubeconfig = tmp_path / "front-kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        try:
            yield kubeconfig
        finally:
            await runner.cleanup()
            await client.close()


async def run(kubectl: str, kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_top_pods_and_nodes(front: Path, kubectl: str) -> None:
    code, out, err = await run(kubectl, front, "top", "pods", "--containers")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    # The test provider reports usage for default/web only (its "idle" pod has none).
    assert rows[1:] == [
        ["web", "app", "0m", "4Mi"],
        ["web", "sidecar", "1m", "1Mi"],
    ]  # 7n rounds up

    code, out, err = await run(kubectl, front, "top", "node")
    assert code == 0, err
    header, row = (line.split() for line in out.splitlines())
    assert header[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    assert row[0] == NODE
    assert row[1].endswith("m") and row[3].endswith("Mi")

    code, _, err = await run(kubectl, front, "top", "pod", "idle")
    assert code != 0
    assert 'podmetrics.metrics.k8s.io "idle" not found' in err
