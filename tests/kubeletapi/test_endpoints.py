"""Stats, metrics, pods, health and the unsupported streaming endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from kubelet_core._kubeletapi import KubeletApiServer
from kubelet_core._kubeletapi.stats import CpuRateTracker
from tests.kubeletapi.conftest import NODE, FileLogProvider, Pki, client_context, fetch


async def test_stats_summary_shape(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    status, body = await fetch(http, server, "/stats/summary", cert=pki.admin)
    assert status == 200
    first = json.loads(body)
    node = first["node"]
    assert node["nodeName"] == NODE
    assert node["startTime"].endswith("Z")
    assert node["cpu"]["usageCoreNanoSeconds"] > 0
    assert node["memory"]["workingSetBytes"] > 0
    assert node["memory"]["availableBytes"] > 0
    [pod] = first["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": "uid-web"}
    assert pod["startTime"] == "2026-01-01T00:00:00Z"
    app, sidecar = pod["containers"]
    assert app["name"] == "app"
    assert app["cpu"]["usageCoreNanoSeconds"] == 1_500_000_000
    assert app["cpu"]["usageNanoCores"] == 0  # first sample: no rate yet
    assert app["memory"] == {
        "time": app["memory"]["time"],
        "workingSetBytes": 4 << 20,
        "usageBytes": 5 << 20,
    }
    assert sidecar["cpu"]["usageNanoCores"] == 7  # given by the provider
    assert sidecar["memory"]["usageBytes"] == 1 << 20  # defaults to the working set
    assert pod["cpu"]["usageCoreNanoSeconds"] == 1_750_000_000
    assert pod["memory"]["workingSetBytes"] == 5 << 20

    second = json.loads((await fetch(http, server, "/stats/summary", cert=pki.admin))[1])
    app = second["pods"][0]["containers"][0]
    assert app["cpu"]["usageCoreNanoSeconds"] == 2_000_000_000
    # Too soon after the first read for a rate: it stays at the previous one.
    assert app["cpu"]["usageNanoCores"] == 0


def test_cpu_rate_from_cumulative_samples() -> None:
    tracker = CpuRateTracker(min_interval=1.0)
    assert tracker.sample("c", 1_000_000_000, now=100.0) == 0
    assert tracker.sample("c", 1_100_000_000, now=100.5) == 0  # too close: previous rate
    assert tracker.sample("c", 3_000_000_000, now=102.0) == 1_000_000_000  # one core busy
    assert tracker.sample("c", 3_000_000_000, now=102.2) == 1_000_000_000
    assert tracker.sample("c", 3_500_000_000, now=104.0) == 250_000_000
    assert tracker.sample("c", 10, now=106.0) == 0  # restarted: counter went back
    tracker.forget_except(set())
    assert tracker.sample("c", 10, now=107.0) == 0


async def test_resource_metrics_as_metrics_server_reads_them(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    status, body = await fetch(http, server, "/metrics/resource", cert=pki.admin)
    assert status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    node_cpu = samples[("node_cpu_usage_seconds_total", ())]
    assert node_cpu.value > 0 and node_cpu.timestamp is not None
    assert samples[("node_memory_working_set_bytes", ())].value > 0
    pod = (("namespace", "default"), ("pod", "web"))
    assert samples[("pod_cpu_usage_seconds_total", pod)].value == 1.75
    assert samples[("pod_memory_working_set_bytes", pod)].value == 5 << 20
    app = tuple(sorted((*pod, ("container", "app"))))
    assert samples[("container_cpu_usage_seconds_total", app)].value == 1.5
    assert samples[("container_memory_working_set_bytes", app)].value == 4 << 20
    assert samples[("container_start_time_seconds", app)].value == 1767225600.0
    assert "# TYPE node_cpu_usage_seconds_total counter" in body
    assert "# TYPE pod_memory_working_set_bytes gauge" in body


async def test_metrics_serves_the_agent_registry(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    status, body = await fetch(http, server, "/metrics", cert=pki.admin)
    assert status == 200
    assert "wasmlet_test_things_total 3.0" in body


async def test_pods_lists_what_the_provider_holds(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "x\n")
    await provider.append("kube-system", "dns", "main", "y\n")
    status, body = await fetch(http, server, "/pods", cert=pki.admin)
    assert status == 200
    pods = json.loads(body)
    assert pods["kind"] == "PodList"
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods["items"]] == [
        ("default", "web"),
        ("kube-system", "dns"),
    ]
    assert pods["items"][0]["status"] == {"phase": "Running"}


async def test_streaming_endpoints_are_501(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    for method, path in (
        ("POST", "/exec/default/web/app?command=sh&stdin=1"),
        ("GET", "/exec/default/web/app"),
        ("POST", "/attach/default/web/app"),
        ("POST", "/portForward/default/web"),
        ("POST", "/run/default/web/app"),
    ):
        status, body = await fetch(http, server, path, cert=pki.admin, method=method)
        assert status == 501, path
        assert "not supported" in body
        # kubelet's refusal before an upgrade: a Status that kube-apiserver relays and
        # kubectl prints.
        refusal = json.loads(body)
        assert (refusal["kind"], refusal["status"], refusal["code"]) == ("Status", "Failure", 501)
        assert f"by node {NODE}: wasm pods have no interactive process" in refusal["message"]


async def test_an_upgrade_request_is_refused_before_switching(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    """As kubectl asks (SPDY, then WebSocket): no 101, the Status, the connection closed."""
    for headers in (
        {
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": "v4.channel.k8s.io",
        },
        {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": "v5.channel.k8s.io",
        },
    ):
        url = server.url + "/exec/default/web/app?command=sh&stdout=1"
        context = client_context(server, pki.admin)
        async with http.post(url, headers=headers, ssl=context) as response:
            assert response.status == 501
            assert "wasm pods have no interactive process" in (await response.json())["message"]


async def test_unknown_path_is_404_after_authentication(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    assert (await fetch(http, server, "/nope"))[0] == 401
    assert (await fetch(http, server, "/nope", cert=pki.admin))[0] == 404


async def test_self_signed_certificate_names_the_node_and_survives_restarts(
    server: KubeletApiServer,
    tmp_path: Path,
    provider: FileLogProvider,
    pki: Pki,
    http: aiohttp.ClientSession,
) -> None:
    cert_file = server.serving_cert_file
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert NODE in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    first = cert_file.read_bytes()
    await server.stop()
    again = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "serving",
        client_ca_file=pki.ca.cert,
        api=None,
    )
    async with again:
        assert again.serving_cert_file.read_bytes() == first
        assert await fetch(http, again, "/healthz", cert=pki.admin) == (200, "ok")


async def test_serving_certificate_from_files(
    tmp_path: Path, provider: FileLogProvider, pki: Pki, http: aiohttp.ClientSession
) -> None:
    from kubelet_core._kubeletapi.tls import ensure_self_signed

    cert, key = ensure_self_signed(tmp_path / "elsewhere", "given-node", "127.0.0.1")
    server = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "unused",
        client_ca_file=pki.ca.cert,
        api=None,
        tls_cert_file=cert,
        tls_key_file=key,
    )
    async with server:
        assert server.serving_cert_file == cert
        assert await fetch(http, server, "/healthz", cert=pki.admin) == (200, "ok")
    assert not (tmp_path / "unused").exists()


def test_self_signed_certificate_is_remade_for_a_new_address(tmp_path: Path) -> None:
    from kubelet_core._kubeletapi.tls import ensure_self_signed

    cert, _ = ensure_self_signed(tmp_path, "n1", "127.0.0.1")
    first = cert.read_bytes()
    assert ensure_self_signed(tmp_path, "n1", "127.0.0.1")[0].read_bytes() == first
    ensure_self_signed(tmp_path, "n1", "127.0.0.2")
    remade = x509.load_pem_x509_certificate(cert.read_bytes())
    names = remade.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.2" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_client_ca_from_kubeconfig(tmp_path: Path, pki: Pki) -> None:
    import base64

    import yaml

    from kubelet_core._kubeletapi.tls import client_ca_from_kubeconfig

    config: dict[str, Any] = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [
            {
                "name": "k",
                "cluster": {
                    "server": "https://127.0.0.1:1",
                    "certificate-authority-data": base64.b64encode(
                        pki.ca.cert.read_bytes()
                    ).decode(),
                },
            }
        ],
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    ca = client_ca_from_kubeconfig(kubeconfig, tmp_path / "out")
    assert ca is not None and ca.read_bytes() == pki.ca.cert.read_bytes()
    config["clusters"][0]["cluster"] = {"certificate-authority": "ca.crt"}
    kubeconfig.write_text(yaml.safe_dump(config))
    assert client_ca_from_kubeconfig(kubeconfig, tmp_path / "out") == tmp_path / "ca.crt"
    config["clusters"][0]["cluster"] = {"insecure-skip-tls-verify": True}
    kubeconfig.write_text(yaml.safe_dump(config))
    assert client_ca_from_kubeconfig(kubeconfig, tmp_path / "out") is None
