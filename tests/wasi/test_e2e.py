"""End to end: embedded control plane + node agent + WasiProvider + a real registry."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from kubelet_core._provider.base import LogOptions
from kubelet_core.testing import ClusterHarness, pod_manifest
from tests.fixtures.registry import RegistryProcess
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.provider import WasiProvider

pytestmark = [pytest.mark.needs_registry, pytest.mark.slow]


async def test_private_module_with_pull_secret(
    tmp_path: Path, token_registry: RegistryProcess
) -> None:
    repo = f"e2e-{uuid.uuid4().hex[:8]}"
    await token_registry.push(WASM_DIR / "scripted.wasm", f"{repo}:v1")
    image = f"{token_registry.host}/{repo}:v1"
    auth = base64.b64encode(b"wasmlet:s3cret").decode()
    config = {"auths": {token_registry.host: {"auth": auth}}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    async with ClusterHarness.start(tmp_path) as cluster:
        await cluster.api.request("POST", "/api/v1/namespaces/default/secrets", body=secret)
        async with cluster.node(WasiProvider(), "wasi-node") as node:
            manifest = pod_manifest(
                "private",
                image=image,
                node_name=node.node_name,
                args=["echo", "from a private registry", "exit", "0"],
                imagePullSecrets=[{"name": "regcred"}],
            )
            await cluster.create_pod(manifest)
            pod = await cluster.wait_for_pod("default", "private", phase="Succeeded")
            status = pod["status"]["containerStatuses"][0]
            assert status["state"]["terminated"]["exitCode"] == 0
            assert status["imageID"].startswith(f"{token_registry.host}/{repo}@sha256:")
            chunks = [
                chunk
                async for chunk in node.provider.container_logs(
                    "default", "private", "private", LogOptions()
                )
            ]
            assert b"".join(chunks) == b"from a private registry\n"
