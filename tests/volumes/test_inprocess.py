"""Volumes with the in-process cluster: projected tokens, hostPath allow-list, crash cleanup.

These need wiring that ``wasmlet up`` does not have yet, so they run the
control plane, node agent and WASI provider in the test process:

* the TokenRequest handler (:mod:`kubelet_core._controlplane.tokenrequest`) is
  put in front of the control plane's catch-all API handler, as the lead will
  wire it as a route;
* ``allowed_host_paths`` reaches the provider through ``ProviderContext``
  (the agent does not fill that field yet, so a provider subclass adds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from kubelet_core._controlplane.kubelet_proxy import store_reader
from kubelet_core._controlplane.tokenrequest import (
    TokenSigner,
    is_token_request,
    token_request_handler,
    verify_token,
)
from kubelet_core._modules import ModuleStore
from kubelet_core._provider.base import KubeObject, LogOptions, ProviderContext
from kubelet_core.testing import ClusterHarness, pod_manifest
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.provider import WasiProvider

SCRIPT = "examples.wasmlet.dev/wasi-script:v1"


@contextlib.asynccontextmanager
async def cluster_with_tokens(tmp_path: Path) -> AsyncIterator[tuple[ClusterHarness, TokenSigner]]:
    async with ClusterHarness.start(tmp_path) as cluster:
        cp = cluster.controlplane
        signer = TokenSigner.load_or_create(cp.pki.directory)
        # min_expiration=1: lets the test watch a refresh within seconds.
        tokens = token_request_handler(store_reader(lambda: cp.store), signer, min_expiration=1)
        dispatch = cp.api._dispatch

        async def with_tokens(request: web.Request) -> web.StreamResponse:
            if is_token_request(request):
                return await tokens(request)
            return await dispatch(request)

        cp.api._dispatch = with_tokens  # type: ignore[method-assign]
        yield cluster, signer


class AllowingProvider(WasiProvider):
    """WasiProvider whose context carries ``allowed_host_paths`` (the agent's job, later)."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed = allowed

    async def start(self, context: ProviderContext) -> None:
        await super().start(dataclasses.replace(context, allowed_host_paths=self.allowed))


async def import_script(provider: WasiProvider) -> None:
    assert provider.modules is not None
    await provider.modules.import_file(WASM_DIR / "scripted.wasm", SCRIPT)


def script_pod(name: str, args: list[str], **spec: Any) -> KubeObject:
    return pod_manifest(name, image=SCRIPT, args=args, **spec)


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := check()):  # noqa: ASYNC110 - a file on disk: nothing to await
            await asyncio.sleep(0.05)
    return found


async def log_of(provider: WasiProvider, pod: str) -> bytes:
    chunks = [c async for c in provider.container_logs("default", pod, pod, LogOptions())]
    return b"".join(chunks)


async def test_projected_volume_with_refreshed_token(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "proj-config"},
        "data": {"mode": "fast"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "proj-secret"},
        "stringData": {"key": "k3y"},
    }
    async with cluster_with_tokens(tmp_path) as (cluster, signer):
        await cluster.api.request("POST", "/api/v1/namespaces/default/configmaps", body=config)
        await cluster.api.request("POST", "/api/v1/namespaces/default/secrets", body=secret)
        provider = WasiProvider()
        async with cluster.node(provider, "token-node") as node:
            await import_script(provider)
            manifest = script_pod(
                "projected",
                [
                    "assert_content",
                    "/proj/settings/mode",
                    "fast",
                    "assert_content",
                    "/proj/key",
                    "k3y",
                    "assert_content",
                    "/proj/labels",
                    'app="tok"',
                    "read",
                    "/proj/token",
                    "sleep",
                    "5000",
                ],
                node_name=node.node_name,
                volumes=[
                    {
                        "name": "proj",
                        "projected": {
                            "sources": [
                                {
                                    "configMap": {
                                        "name": "proj-config",
                                        "items": [{"key": "mode", "path": "settings/mode"}],
                                    }
                                },
                                {"secret": {"name": "proj-secret"}},
                                {
                                    "downwardAPI": {
                                        "items": [
                                            {
                                                "path": "labels",
                                                "fieldRef": {"fieldPath": "metadata.labels"},
                                            }
                                        ]
                                    }
                                },
                                {
                                    "serviceAccountToken": {
                                        "audience": "vault",
                                        "expirationSeconds": 3,
                                        "path": "token",
                                    }
                                },
                            ]
                        },
                    }
                ],
            )
            manifest["metadata"]["labels"] = {"app": "tok"}
            manifest["spec"]["containers"][0]["volumeMounts"] = [
                {"name": "proj", "mountPath": "/proj", "readOnly": True}
            ]
            await cluster.create_pod(manifest)
            pod = await cluster.wait_for_pod(
                "default",
                "projected",
                lambda p: p.get("status", {}).get("phase") in ("Running", "Failed"),
            )
            assert pod["status"]["phase"] == "Running", pod["status"]
            uid = pod["metadata"]["uid"]
            host = provider.volume_host.secret_root
            assert host is not None  # /dev/shm is writable here: the token is on tmpfs
            token_file = host / f"default_projected_{uid}" / "projected" / "proj" / "token"
            first = token_file.read_text()
            public = signer.key.public_key()
            claims = verify_token(first, public, audience="vault")
            assert claims["sub"] == "system:serviceaccount:default:default"
            assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
            assert claims["exp"] - claims["iat"] == 3
            assert claims["nbf"] == claims["iat"]
            bound = claims["kubernetes.io"]
            assert bound["namespace"] == "default"
            assert bound["pod"] == {"name": "projected", "uid": uid}
            assert bound["serviceaccount"]["name"] == "default"
            assert bound["node"]["name"] == node.node_name
            # Refreshed at 80 % of its 3 s lifetime, while the module runs.
            started = time.monotonic()
            second = await until(lambda: (t := token_file.read_text()) != first and t, 10.0)
            assert time.monotonic() - started < 5.0
            assert verify_token(second, public, audience="vault")["jti"] != claims["jti"]
            done = await cluster.wait_for_pod("default", "projected", phase="Succeeded")
            assert done["status"]["containerStatuses"][0]["restartCount"] == 0
            assert (await log_of(provider, "projected")).decode() == first
            # Exactly the objects the pod uses are watched, until the pod is gone.
            objects = provider.volume_host.objects
            assert objects.watched == {
                ("configmaps", "default", "proj-config"),
                ("secrets", "default", "proj-secret"),
            }
            await cluster.api.request("DELETE", "/api/v1/namespaces/default/pods/projected")
            await until(lambda: not objects.watched)
            await until(lambda: not token_file.parent.exists())


async def test_host_path_allowed_and_typed(tmp_path: Path) -> None:
    allowed = tmp_path / "host"
    allowed.mkdir()
    (allowed / "existing.txt").write_text("from the host")
    provider = AllowingProvider((str(allowed),))
    async with ClusterHarness.start(tmp_path) as cluster, cluster.node(provider) as node:
        await import_script(provider)
        made = allowed / "made" / "here"
        manifest = script_pod(
            "hostpath-ok",
            [
                "assert_content",
                "/host/existing.txt",
                "from the host",
                "write",
                "/made/out.txt",
                "written by the module",
            ],
            node_name=node.node_name,
            volumes=[
                {"name": "host", "hostPath": {"path": str(allowed), "type": "Directory"}},
                {"name": "made", "hostPath": {"path": str(made), "type": "DirectoryOrCreate"}},
            ],
        )
        manifest["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "host", "mountPath": "/host", "readOnly": True},
            {"name": "made", "mountPath": "/made"},
        ]
        # DirectoryOrCreate makes a root-owned 0755 directory, as kubelet does: only a
        # pod running as root writes there (the node's default user, nobody, cannot).
        manifest["spec"]["securityContext"] = {"runAsUser": 0}
        await cluster.create_pod(manifest)
        await cluster.wait_for_pod("default", "hostpath-ok", phase="Succeeded")
        assert (made / "out.txt").read_text() == "written by the module"

        refused = script_pod(
            "hostpath-bad",
            ["exit", "0"],
            node_name=node.node_name,
            volumes=[
                {"name": "f", "hostPath": {"path": str(allowed / "nope"), "type": "File"}},
                {"name": "out", "hostPath": {"path": str(tmp_path)}},
            ],
        )
        await cluster.create_pod(refused)

        async def failed_mounts() -> set[str]:
            events = await cluster.events_for("default", "hostpath-bad")
            return {e["message"] for e in events if e["reason"] == "FailedMount"}

        expected = {
            f'MountVolume.SetUp failed for volume "f" : hostPath type check failed: '
            f"{allowed / 'nope'} is not a file",
            f'MountVolume.SetUp failed for volume "out" : hostPath {tmp_path} is not allowed '
            f"on this node (allowed_host_paths: {allowed})",
        }
        async with asyncio.timeout(15):
            while not expected <= (seen := await failed_mounts()):  # noqa: ASYNC110 - events
                await asyncio.sleep(0.1)
        assert expected <= seen

        # The node writes the waiting status (ContainerCreating) on its own schedule: a
        # first Pending status may be held for a moment in case Running follows.
        def creating(pod: dict[str, Any]) -> bool:
            statuses = pod.get("status", {}).get("containerStatuses") or [{}]
            waiting = (statuses[0].get("state") or {}).get("waiting") or {}
            return bool(waiting.get("reason") == "ContainerCreating")

        await cluster.wait_for_pod("default", "hostpath-bad", creating, timeout=15)


async def test_stale_volume_directories_are_removed_at_start(tmp_path: Path) -> None:
    async with ClusterHarness.start(tmp_path) as cluster:
        node_name = "restart-node"
        # A pod that still exists, bound to the node before its agent (re)starts...
        manifest = script_pod(
            "survivor",
            ["assert_content", "/data/kept", "still here"],
            node_name=node_name,
            volumes=[{"name": "data", "emptyDir": {}}],
        )
        manifest["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        created = await cluster.api.request(
            "POST", "/api/v1/namespaces/default/pods", body=manifest
        )
        uid = created["metadata"]["uid"]
        volumes = tmp_path / "nodes" / node_name / "volumes"
        kept = volumes / f"default_survivor_{uid}" / "empty-dir" / "data"
        kept.mkdir(parents=True)
        (kept / "kept").write_text("still here")
        stale_content = volumes / f"default_survivor_{uid}" / "configmap" / "old"
        stale_content.mkdir(parents=True)
        # ... and what a crashed agent left of a pod that is gone.
        ghost = volumes / "default_ghost_0000-dead"
        (ghost / "empty-dir" / "x").mkdir(parents=True)
        # The module is in the store before the agent starts: the pod can run at once.
        store = ModuleStore(tmp_path / "modules")
        await store.import_file(WASM_DIR / "scripted.wasm", SCRIPT)
        await store.aclose()
        provider = WasiProvider()
        async with cluster.node(provider, node_name):
            secret_root = provider.volume_host.secret_root
            assert not ghost.exists()
            assert not stale_content.exists()
            await cluster.wait_for_pod("default", "survivor", phase="Succeeded", timeout=8)
        if secret_root is not None:
            ghost_secret = secret_root / "default_ghost2_0000-dead" / "secret" / "s"
            ghost_secret.mkdir(parents=True)
            provider2 = WasiProvider()
            async with cluster.node(provider2, node_name):
                assert not ghost_secret.parent.parent.exists()


async def test_secrets_without_tmpfs_stay_in_private_directories(tmp_path: Path) -> None:
    from kubelet_core._containers.volumes import PodVolumes
    from kubelet_core._volumes.host import make_volume_host, tmpfs_root

    assert tmpfs_root(tmp_path, shm=tmp_path / "no-shm") is None
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain"},
        "stringData": {"pw": "hunter2"},
    }
    async with ClusterHarness.start(tmp_path) as cluster:
        await cluster.api.request("POST", "/api/v1/namespaces/default/secrets", body=secret)
        host = make_volume_host(
            cluster.api, node_name="n", node_ip="127.0.0.1", data_dir=tmp_path / "node", shm=None
        )
        assert host.secret_root is None
        pod = {
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"volumes": [{"name": "s", "secret": {"secretName": "plain"}}]},
        }
        volumes = PodVolumes(tmp_path / "node" / "volumes", pod, host=host)
        assert await volumes.setup() == {}
        directory = tmp_path / "node" / "volumes" / "default_p_u1" / "secret"
        assert (directory / "s" / "pw").read_text() == "hunter2"
        for path in (directory.parent, directory):  # the host's other users stay out
            assert path.stat().st_mode & 0o777 == 0o700
        # The pod's user (not root) reads it: its host opens the volume by descriptor.
        assert (directory / "s").stat().st_mode & 0o777 == 0o755
        volumes.remove()
        await host.objects.close()
        assert not (tmp_path / "node" / "volumes" / "default_p_u1").exists()
