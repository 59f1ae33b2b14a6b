"""The kubelet API behind the real embedded ControlPlane, driven by the real kubectl.

The control plane is wired through its own hooks: ``log_handler`` (pod logs proxied
to the kubelet with the kubelet-client certificate) and ``token_authenticator``.
The kubelet trusts the control plane's CA for client certificates and asks a
review server (this project's TokenReview/SubjectAccessReview handlers) for
decisions, as a kubelet asks its API server.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._apiclient import KubeApi
from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.authn_authz import TokenTable
from kubelet_core._controlplane.kubelet_proxy import (
    KubeletClient,
    ensure_kubelet_client_certificate,
    pod_log_handler,
    store_reader,
)
from kubelet_core._kubeletapi import KubeletApiServer
from tests.kubeletapi.conftest import NODE, FileLogProvider, client_context
from tests.kubeletapi.pki import CertPair

pytestmark = pytest.mark.needs_kubectl


@dataclasses.dataclass
class Cluster:
    cp: ControlPlane
    kubelet: KubeletApiServer
    provider: FileLogProvider


@pytest.fixture
async def cluster(
    tmp_path: Path, provider: FileLogProvider, review_api: KubeApi
) -> AsyncIterator[Cluster]:
    tokens = TokenTable()
    tokens.add("dev-token", "dev", ["devs"])
    cp = ControlPlane(
        tmp_path / "cp", port=0, scheduler=False, token_authenticator=tokens.authenticate
    )
    cp.pki.ensure_ca()
    cert, key = ensure_kubelet_client_certificate(
        cp.pki.ca_cert_path, cp.pki.ca_key_path, tmp_path / "cp" / "pki"
    )
    client = KubeletClient(cert, key)
    cp.log_handler = pod_log_handler(store_reader(lambda: cp.store), client)
    kubelet = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "kubelet-pki",
        client_ca_file=cp.pki.ca_cert_path,
        api=review_api,
    )
    async with cp, kubelet:
        api = await KubeApi.from_kubeconfig(cp.kubeconfig_path)
        try:
            await api.request("POST", "/api/v1/nodes", body={"metadata": {"name": NODE}})
            await api.request(
                "PATCH",
                f"/api/v1/nodes/{NODE}/status",
                body={
                    "status": {
                        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
                    }
                },
            )
            for name, containers in (("solo", ["main"]), ("web", ["app", "sidecar"])):
                spec = {
                    "nodeName": NODE,
                    "containers": [{"name": c, "image": "example/wasm:1"} for c in containers],
                }
                await api.request(
                    "POST",
                    "/api/v1/namespaces/default/pods",
                    body={"metadata": {"name": name}, "spec": spec},
                )
        finally:
            await api.close()
        try:
            yield Cluster(cp, kubelet, provider)
        finally:
            await client.close()


async def kubectl_run(kubectl: str, cp: ControlPlane, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(cp.kubeconfig_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_logs_through_the_control_plane(cluster: Cluster, kubectl: str) -> None:
    await cluster.provider.append("default", "solo", "main", "one\ntwo\nthree\n")
    await cluster.provider.append("default", "web", "sidecar", "s1\ns2\n")
    assert await kubectl_run(kubectl, cluster.cp, "logs", "solo") == (0, "one\ntwo\nthree\n", "")
    assert (await kubectl_run(kubectl, cluster.cp, "logs", "solo", "--tail=1"))[1] == "three\n"
    assert (await kubectl_run(kubectl, cluster.cp, "logs", "solo", "--limit-bytes=5"))[
        1
    ] == "one\nt"
    code, out, _ = await kubectl_run(kubectl, cluster.cp, "logs", "web", "-c", "sidecar")
    assert (code, out) == (0, "s1\ns2\n")
    # Known to the API, unknown to the kubelet: kubectl shows the kubelet's reason.
    code, _, err = await kubectl_run(kubectl, cluster.cp, "logs", "web", "-c", "app")
    assert code != 0
    assert 'container "app" in pod "web" is not known' in err


async def test_kubectl_logs_follow(cluster: Cluster, kubectl: str) -> None:
    await cluster.provider.append("default", "solo", "main", "first\n")
    process = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(cluster.cp.kubeconfig_path),
        "logs",
        "-f",
        "solo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"first\n"
        await cluster.provider.append("default", "solo", "main", "second\n")
        assert await asyncio.wait_for(process.stdout.readline(), 10) == b"second\n"
    finally:
        process.terminate()
        await process.wait()
    # kubectl went away: the control plane and then the kubelet let go of the stream.
    await asyncio.wait_for(cluster.provider.stream_closed.wait(), 10)


async def test_control_plane_certificates_at_the_kubelet(cluster: Cluster, tmp_path: Path) -> None:
    admin = cluster.cp.pki.admin_pair()
    dev = cluster.cp.pki.issue("dev", "dev", organizations=("devs",))
    url = cluster.kubelet.url + "/healthz"
    async with aiohttp.ClientSession() as http:
        for pair, expected in ((admin, 200), (dev, 403), (None, 401)):
            cert = CertPair(pair.cert_path, pair.key_path) if pair else None
            async with http.get(url, ssl=client_context(cluster.kubelet, cert)) as response:
                assert response.status == expected, pair


async def test_kubectl_exec_attach_port_forward_and_cp_show_the_nodes_reason(
    cluster: Cluster, kubectl: str, tmp_path: Path
) -> None:
    """Each is proxied to the kubelet, whose refusal (before any upgrade) reaches the user."""
    api = await KubeApi.from_kubeconfig(cluster.cp.kubeconfig_path)
    try:  # port-forward wants a running pod
        await api.request(
            "PATCH",
            "/api/v1/namespaces/default/pods/solo/status",
            body={"status": {"phase": "Running"}},
        )
    finally:
        await api.close()
    source = tmp_path / "file.txt"
    source.write_text("x")
    for args, reason in (
        (("exec", "solo", "--", "sh"), "exec is not supported by node"),
        (("exec", "-i", "solo", "-c", "main", "--", "sh"), "exec is not supported by node"),
        (("attach", "solo"), "attach is not supported by node"),
        (("port-forward", "pod/solo", "0:8080"), "port-forward is not supported by node"),
        (("cp", str(source), "solo:/tmp/file.txt"), "exec is not supported by node"),
    ):
        code, _, err = await kubectl_run(kubectl, cluster.cp, *args)
        assert code != 0, args
        assert f"{reason} {NODE}: wasm pods have no interactive process" in err, (args, err)
    # A container the pod does not have is refused by the control plane, as kube-apiserver does.
    code, _, err = await kubectl_run(kubectl, cluster.cp, "exec", "web", "-c", "nope", "--", "sh")
    assert code != 0 and "container nope is not valid for pod web" in err, err
