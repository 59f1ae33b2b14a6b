"""The real kubectl (1.37) against the control plane, with no flags beyond the kubeconfig."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, eventually

pytestmark = pytest.mark.needs_kubectl

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels: {app: hello}
spec:
  containers:
  - name: main
    image: example/hello:IMAGE
"""


class Kubectl:
    def __init__(self, binary: str, kubeconfig: Path, workdir: Path) -> None:
        self.binary = binary
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(workdir)}
        self.workdir = workdir

    async def run(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        rc = proc.returncode or 0
        if check:
            assert rc == 0, (args, out.decode(), err.decode())
        return rc, out.decode(), err.decode()

    async def out(self, *args: str) -> str:
        return (await self.run(*args))[1]

    async def apply(self, text: str) -> str:
        path = self.workdir / "manifest.yaml"
        path.write_text(text)
        return await self.out("apply", "-f", str(path))


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[tuple[Kubectl, Client]]:
    async with ControlPlane(tmp_path / "cp") as cp, aiohttp.ClientSession() as session:
        yield Kubectl(kubectl, cp.kubeconfig_path, tmp_path), Client(cp, session)


async def test_apply_get_label_annotate_describe(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    await add_node(client, "n1")
    assert "pod/hello created" in await k.apply(POD.replace("IMAGE", "1"))
    # Apply again with a change: a strategic merge patch computed by kubectl.
    assert "pod/hello configured" in await k.apply(
        POD.replace("IMAGE", "2").replace("{app: hello}", "{app: hello, tier: web}")
    )
    assert "pod/hello unchanged" in await k.apply(
        POD.replace("IMAGE", "2").replace("{app: hello}", "{app: hello, tier: web}")
    )
    obj: dict[str, Any] = json.loads(await k.out("get", "pod", "hello", "-o", "json"))
    assert obj["spec"]["containers"][0]["image"] == "example/hello:2"
    assert obj["metadata"]["labels"] == {"app": "hello", "tier": "web"}

    async def scheduled() -> bool:
        return "n1" in await k.out("get", "pods", "-o", "wide")

    await eventually(scheduled)
    wide = (await k.out("get", "pods", "-o", "wide")).splitlines()
    assert wide[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert wide[1].split()[:3] == ["hello", "0/1", "Pending"]
    assert "n1" in wide[1].split()

    assert "pod/hello labeled" in await k.out("label", "pod", "hello", "color=blue")
    assert "pod/hello annotated" in await k.out("annotate", "pod", "hello", "note=hi")
    assert "pod/hello unlabeled" in await k.out("label", "pod", "hello", "color-")
    shown = await k.out("get", "pods", "--show-labels", "-l", "app=hello")
    assert "app=hello,tier=web" in shown
    described = await k.out("describe", "pod", "hello")
    assert "Node:             n1/" in described
    assert "note: hi" in described
    assert "Successfully assigned default/hello to n1" in described
    nodes = await k.out("get", "nodes", "-o", "wide")
    assert nodes.splitlines()[1].split()[:2] == ["n1", "Ready"]
    assert "default" in await k.out("get", "sa")
    assert "kube-node-lease" in await k.out("get", "ns")


async def test_delete_graceful_then_force(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    await add_node(client, "n1")
    await k.apply(POD.replace("IMAGE", "1"))

    async def bound() -> bool:
        pod = await client.ok("GET", "/api/v1/namespaces/default/pods/hello")
        return bool(pod["spec"].get("nodeName"))

    await eventually(bound)
    await k.out("delete", "pod", "hello", "--wait=false")
    assert "Terminating" in await k.out("get", "pod", "hello")
    _rc, out, _err = await k.run("delete", "pod", "hello", "--force", "--grace-period=0")
    assert "force deleted" in out
    assert (await client.get("/api/v1/namespaces/default/pods/hello"))[0] == 404
    await k.apply(POD.replace("IMAGE", "1").replace("hello", "other"))
    assert 'pod "other" deleted' in await k.out("delete", "pod", "other", "--wait=false")


async def test_get_watch_streams_changes(env: tuple[Kubectl, Client]) -> None:
    k, _client = env
    await k.apply(POD.replace("IMAGE", "1"))
    proc = await asyncio.create_subprocess_exec(
        k.binary,
        "get",
        "pods",
        "-w",
        "--request-timeout=20s",
        env=k.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        header = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert header.split()[:2] == [b"NAME", b"READY"]
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert first.split()[0] == b"hello"
        await k.out("label", "pod", "hello", "seen=yes")
        update = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert update.split()[0] == b"hello"
    finally:
        proc.kill()
        await proc.wait()


TOLERATING_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: tolerant
spec:
  containers:
  - name: main
    image: example/hello:1
  tolerations:
  - {key: kubernetes.io/arch, operator: Equal, value: wasm32-wasi, effect: NoExecute}
"""


async def test_reapply_with_admission_defaults_is_a_no_op(env: tuple[Kubectl, Client]) -> None:
    """Tolerations are an atomic list, so kubectl re-sends them ("configured"), and the
    DefaultTolerationSeconds admission defaults come back: the object does not change."""
    k, client = env
    await k.apply(TOLERATING_POD)

    async def settled() -> Any:
        # The scheduler has had its say (no nodes here: PodScheduled=False).
        pod = await client.ok("GET", "/api/v1/namespaces/default/pods/tolerant")
        return pod if pod["status"].get("conditions") else None

    before = await eventually(settled)
    assert len(before["spec"]["tolerations"]) == 3
    assert "pod/tolerant configured" in await k.apply(TOLERATING_POD)
    after = await client.ok("GET", "/api/v1/namespaces/default/pods/tolerant")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after == before


async def test_apply_rejects_unknown_fields_like_a_real_server(
    env: tuple[Kubectl, Client],
) -> None:
    k, _client = env
    path = k.workdir / "typo.yaml"
    path.write_text(POD.replace("IMAGE", "1").replace("    image:", "    imagee: x\n    image:"))
    rc, _out, err = await k.run("apply", "-f", str(path), check=False)
    assert rc != 0
    assert 'strict decoding error: unknown field "spec.containers[0].imagee"' in err


async def test_typed_commands_sending_protobuf(env: tuple[Kubectl, Client]) -> None:
    """kubectl create <kind> and drain use typed clients, which send protobuf bodies."""
    k, client = env
    assert "namespace/team created" in await k.out("create", "namespace", "team")
    await k.out("create", "configmap", "cfg", "--from-literal=a=b", "-n", "team")
    await k.out("create", "secret", "generic", "s1", "--from-literal=p=q", "-n", "team")
    await k.out("create", "serviceaccount", "robot", "-n", "team")
    cm = await client.ok("GET", "/api/v1/namespaces/team/configmaps/cfg")
    assert cm["data"] == {"a": "b"}
    secret = await client.ok("GET", "/api/v1/namespaces/team/secrets/s1")
    assert (secret["type"], secret["data"]) == ("Opaque", {"p": "cQ=="})
    await client.ok("GET", "/api/v1/namespaces/team/serviceaccounts/robot")
    # drain: cordon, then evict the node's pods (Eviction bodies are protobuf too).
    await add_node(client, "n1")
    await client.ok(
        "POST",
        "/api/v1/namespaces/team/pods",
        {
            "metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x:1"}]},
        },
    )
    rc, _out, err = await k.run("drain", "n1", "--force", "--timeout=2s", check=False)
    assert "UnsupportedMediaType" not in err and "BadRequest" not in err
    pod = await client.ok("GET", "/api/v1/namespaces/team/pods/p")
    assert pod["metadata"]["deletionTimestamp"]  # evicted: terminating until the kubelet ends it
    node = await client.ok("GET", "/api/v1/nodes/n1")
    assert node["spec"]["unschedulable"] is True
    assert rc != 0  # nothing finishes the pod here, so drain times out waiting


async def test_create_token(env: tuple[Kubectl, Client]) -> None:
    import base64

    k, _client = env
    token = (await k.out("create", "token", "default", "--duration=20m")).strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["exp"] - claims["iat"] == 1200
    rc, _out, err = await k.run("create", "token", "nobody", check=False)
    assert rc != 0 and 'serviceaccounts "nobody" not found' in err
