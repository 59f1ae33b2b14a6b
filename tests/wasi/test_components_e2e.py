"""Components end to end: control plane + node agent + WasiProvider + a local OCI registry."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kubelet_core._provider.base import LogOptions
from kubelet_core.testing import ClusterHarness, pod_manifest
from tests.fixtures.registry import RegistryProcess
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.provider import WasiProvider

pytestmark = [pytest.mark.needs_registry, pytest.mark.slow]

COMPONENTS = WASM_DIR.parent / "components"


async def test_component_from_a_registry_with_args_env_volume_and_exit_code(
    tmp_path: Path, registry: RegistryProcess
) -> None:
    repo = f"component-{uuid.uuid4().hex[:8]}"
    await registry.push_manifest(  # the CNCF wasm artifact layout
        f"{repo}:v1",
        [((COMPONENTS / "hello.wasm").read_bytes(), "application/wasm")],
        config_media_type="application/vnd.wasm.config.v0+json",
    )
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "greeting", "namespace": "default"},
        "data": {"in.txt": "from a configMap"},
    }
    async with ClusterHarness.start(tmp_path) as cluster:
        await cluster.api.request("POST", "/api/v1/namespaces/default/configmaps", body=config_map)
        async with cluster.node(WasiProvider(), "wasi-node") as node:
            manifest = pod_manifest(
                "component",
                image=f"{registry.host}/{repo}:v1",
                node_name=node.node_name,
                args=["one", "two"],
                volumes=[{"name": "cfg", "configMap": {"name": "greeting"}}],
            )
            container = manifest["spec"]["containers"][0]
            container["env"] = [
                {"name": "INPUT_FILE", "value": "/etc/cfg/in.txt"},
                {"name": "EXIT_CODE", "value": "3"},
            ]
            container["volumeMounts"] = [{"name": "cfg", "mountPath": "/etc/cfg"}]
            await cluster.create_pod(manifest)
            pod = await cluster.wait_for_pod("default", "component", phase="Failed")
            state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
            assert state["exitCode"] == 3
            logs = b"".join(
                [
                    chunk
                    async for chunk in node.provider.container_logs(
                        "default", "component", "component", LogOptions()
                    )
                ]
            ).decode()
            assert "argv[1]=one\nargv[2]=two\n" in logs
            assert "env EXIT_CODE=3\n" in logs
            assert "input:from a configMap" in logs


async def test_component_needing_http_is_refused_without_a_grant(
    tmp_path: Path, registry: RegistryProcess
) -> None:
    repo = f"httpget-{uuid.uuid4().hex[:8]}"
    await registry.push(COMPONENTS / "httpget.wasm", f"{repo}:v1")
    async with (
        ClusterHarness.start(tmp_path) as cluster,
        cluster.node(WasiProvider(), "wasi-node") as node,
    ):
        manifest = pod_manifest(
            "fetch",
            image=f"{registry.host}/{repo}:v1",
            node_name=node.node_name,
            args=["127.0.0.1:9", "/"],
        )
        await cluster.create_pod(manifest)
        pod = await cluster.wait_for_pod("default", "fetch", phase="Failed")
        state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert "not granted outgoing HTTP" in state["message"]
