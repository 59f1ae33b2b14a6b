"""The ``examples/volumes-*.yaml`` manifests shown in docs/volumes.md do what the docs say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubelet_core.testing import ClusterHarness
from tests.e2e.conftest import Wasmlet
from tests.volumes.helpers import pod_log, wait_event, wait_phase
from tests.volumes.test_inprocess import cluster_with_tokens, import_script
from wasmlet_wasi.provider import WasiProvider

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


def test_configmap_secret_example(wasmlet: Wasmlet) -> None:
    wasmlet.apply(*load("volumes-configmap-secret.yaml"))
    wait_phase(wasmlet, "volumes-configmap-secret", "Succeeded")
    assert pod_log(wasmlet, "volumes-configmap-secret") == (
        "[server]\nport = 8080\nGREETING=hello\nAPP_greeting=hello\n"
    )


def test_downward_api_example(wasmlet: Wasmlet) -> None:
    wasmlet.apply(*load("volumes-downward-api.yaml"))
    wait_phase(wasmlet, "volumes-downward-api", "Succeeded")
    assert pod_log(wasmlet, "volumes-downward-api") == (
        'app="demo"\ntier="web"\nMY_NODE=wasmlet-wasi\nMY_POD_IP=127.0.0.1\n'
    )


def test_empty_dir_example(wasmlet: Wasmlet) -> None:
    wasmlet.apply(*load("volumes-empty-dir.yaml"))
    wait_phase(wasmlet, "volumes-empty-dir", "Succeeded")
    assert pod_log(wasmlet, "volumes-empty-dir") == "prepared by the init container"


def test_host_path_example_is_refused_by_default(wasmlet: Wasmlet) -> None:
    wasmlet.apply(*load("volumes-host-path.yaml"))
    event = wait_event(wasmlet, "volumes-host-path", "FailedMount")
    assert "hostPath /var/lib/wasmlet-demo is not allowed on this node" in event["message"]
    wasmlet.kubectl("delete", "pod", "volumes-host-path", "--wait=false")


async def test_projected_example(tmp_path: Path) -> None:
    cluster: ClusterHarness
    async with cluster_with_tokens(tmp_path) as (cluster, _signer):
        provider = WasiProvider()
        async with cluster.node(provider, "examples-node"):
            await import_script(provider)
            for doc in load("volumes-projected.yaml"):
                plural = {"ConfigMap": "configmaps", "Secret": "secrets", "Pod": "pods"}
                await cluster.api.request(
                    "POST", f"/api/v1/namespaces/default/{plural[doc['kind']]}", body=doc
                )
            await cluster.wait_for_pod("default", "volumes-projected", phase="Succeeded")
