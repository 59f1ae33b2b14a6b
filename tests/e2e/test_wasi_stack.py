"""The WASI provider through the whole stack: registry → node → kubectl.

A real docker-registry on 127.0.0.1 (plain HTTP is allowed for loopback
registries), `wasmlet up` as a subprocess, a real kubectl.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from tests.e2e.conftest import Wasmlet, wasi_pod
from tests.fixtures.registry import PASSWORD, USERNAME, RegistryProcess

WASM = Path(__file__).resolve().parents[2] / "testdata" / "wasm"
BACKOFF = "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff"


def push(registry: RegistryProcess, module: str, target: str) -> str:
    return asyncio.run(registry.push(WASM / module, target))


def test_pod_pulls_module_from_registry_and_logs_are_visible(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    push(registry, "scripted.wasm", "e2e/scripted:v1")
    image = f"{registry.host}/e2e/scripted:v1"
    wasmlet.apply(wasi_pod("pulled", ["echo", "pulled-and-ran"], container={"image": image}))
    wasmlet.wait_phase("pulled", "Succeeded")
    pod = wasmlet.kubectl_json("get", "pod", "pulled")
    status = pod["status"]["containerStatuses"][0]
    assert status["imageID"].endswith(status["imageID"].split("@")[-1])
    assert "sha256:" in status["imageID"]
    assert "pulled-and-ran" in wasmlet.kubectl("logs", "pulled")
    events = wasmlet.kubectl("get", "events", "--field-selector", "involvedObject.name=pulled")
    assert "Pulling" in events and "Pulled" in events


def test_digest_pinned_reference(wasmlet: Wasmlet, registry: RegistryProcess) -> None:
    push(registry, "scripted.wasm", "e2e/pinned:v1")
    manifest_digest = asyncio.run(_manifest_digest(registry, "e2e/pinned", "v1"))
    image = f"{registry.host}/e2e/pinned@{manifest_digest}"
    wasmlet.apply(wasi_pod("pinned", ["echo", "pinned"], container={"image": image}))
    wasmlet.wait_phase("pinned", "Succeeded")


async def _manifest_digest(registry: RegistryProcess, repo: str, tag: str) -> str:
    import aiohttp

    accept = "application/vnd.oci.image.manifest.v1+json"
    async with (
        aiohttp.ClientSession() as session,
        session.head(
            f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}
        ) as response,
    ):
        return str(response.headers["Docker-Content-Digest"])


def test_unknown_tag_backs_off_with_a_clear_message(
    wasmlet: Wasmlet, registry: RegistryProcess
) -> None:
    image = f"{registry.host}/e2e/missing:nope"
    wasmlet.apply(wasi_pod("missing-tag", ["echo", "x"], container={"image": image}))
    wasmlet.kubectl(
        "wait",
        BACKOFF,
        "pod/missing-tag",
        "--timeout=60s",
        timeout=70,
    )
    events = wasmlet.kubectl("get", "events", "--field-selector", "involvedObject.name=missing-tag")
    assert "Failed" in events and "BackOff" in events
    wasmlet.kubectl("delete", "pod", "missing-tag", "--grace-period=0", "--force")


def test_auth_failure_then_pull_secret(wasmlet: Wasmlet, auth_registry: RegistryProcess) -> None:
    push(auth_registry, "scripted.wasm", "e2e/private:v1")
    image = f"{auth_registry.host}/e2e/private:v1"
    wasmlet.apply(wasi_pod("no-secret", ["echo", "x"], container={"image": image}))
    wasmlet.kubectl(
        "wait",
        BACKOFF,
        "pod/no-secret",
        "--timeout=60s",
        timeout=70,
    )
    message = wasmlet.kubectl_json("get", "pod", "no-secret")["status"]["containerStatuses"][0]
    assert "auth" in json.dumps(message).lower() or "denied" in json.dumps(message).lower()
    wasmlet.kubectl("delete", "pod", "no-secret", "--grace-period=0", "--force")

    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    config = {"auths": {auth_registry.host: {"auth": auth}}}
    wasmlet.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": "default"},
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
        }
    )
    wasmlet.apply(
        wasi_pod(
            "with-secret",
            ["echo", "private"],
            container={"image": image},
            imagePullSecrets=[{"name": "regcred"}],
        )
    )
    wasmlet.wait_phase("with-secret", "Succeeded")


def test_memory_limit_is_enforced(wasmlet: Wasmlet) -> None:
    wasmlet.apply(
        wasi_pod(
            "hog",
            ["alloc", "64"],
            container={"resources": {"limits": {"memory": "16Mi"}}},
        )
    )
    wasmlet.wait_phase("hog", "Failed")
    terminated = wasmlet.kubectl_json("get", "pod", "hog")["status"]["containerStatuses"][0][
        "state"
    ]["terminated"]
    assert terminated["exitCode"] != 0
    assert terminated["reason"] in {"OOMKilled", "Error"}


def test_init_containers_run_in_order(wasmlet: Wasmlet) -> None:
    script = "examples.wasmlet.dev/wasi-script:v1"
    pod = wasi_pod(
        "with-init",
        ["read", "/work/order"],
        container={"volumeMounts": [{"name": "work", "mountPath": "/work"}]},
        volumes=[{"name": "work", "emptyDir": {}}],
        initContainers=[
            {
                "name": f"init-{i}",
                "image": script,
                "args": ["append", "/work/order", f"{i};"],
                "volumeMounts": [{"name": "work", "mountPath": "/work"}],
            }
            for i in (1, 2)
        ],
    )
    wasmlet.apply(pod)
    wasmlet.wait_phase("with-init", "Succeeded")
    assert "1;2;" in wasmlet.kubectl("logs", "with-init")
    statuses = wasmlet.kubectl_json("get", "pod", "with-init")["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["exitCode"] for s in statuses] == [0, 0]


def test_fifty_pods_at_once_all_complete(wasmlet: Wasmlet) -> None:
    items = [wasi_pod(f"many-{i}", ["echo", f"pod {i}"]) for i in range(50)]
    for item in items:
        item["metadata"]["labels"] = {"batch": "many"}
    wasmlet.apply(*items)
    wasmlet.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod",
        "-l",
        "batch=many",
        "--timeout=120s",
        timeout=130,
    )
    phases = wasmlet.kubectl(
        "get",
        "pods",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}',
    )
    many = [line for line in phases.splitlines() if line.startswith("many-")]
    assert len(many) == 50 and all(line.endswith("=Succeeded") for line in many)


def test_registry_down_then_up_recovers(wasmlet: Wasmlet, tmp_path: Path) -> None:
    """A pod whose registry is down backs off, then runs once the registry is back."""
    from tests.components import docker_registry_path, require

    own = RegistryProcess(require(docker_registry_path(), "docker-registry"), tmp_path).start()
    try:
        push(own, "scripted.wasm", "e2e/flaky:v1")
        own.stop()
        image = f"{own.host}/e2e/flaky:v1"
        wasmlet.apply(wasi_pod("registry-down", ["echo", "recovered"], container={"image": image}))
        wasmlet.kubectl("wait", BACKOFF, "pod/registry-down", "--timeout=60s", timeout=70)
        status = wasmlet.kubectl_json("get", "pod", "registry-down")["status"]
        message = status["containerStatuses"][0]["state"]["waiting"].get("message", "")
        assert own.host in message or "connect" in message.lower(), message
        own.start()  # same port, same data: the node's next retry succeeds
        wasmlet.wait_phase("registry-down", "Succeeded", timeout=90)
        assert "recovered" in wasmlet.kubectl("logs", "registry-down")
    finally:
        own.stop()


def test_pull_policies(wasmlet: Wasmlet, registry: RegistryProcess) -> None:
    """IfNotPresent keeps the stored module; Always picks up a new push of the same tag."""
    push(registry, "scripted.wasm", "e2e/policy:v1")
    image = f"{registry.host}/e2e/policy:v1"
    wasmlet.apply(wasi_pod("policy-1", ["echo", "first"], container={"image": image}))
    wasmlet.wait_phase("policy-1", "Succeeded")
    first = wasmlet.kubectl_json("get", "pod", "policy-1")["status"]["containerStatuses"][0]
    push(registry, "hello.wasm", "e2e/policy:v1")  # the tag now names another module
    keep = {"image": image, "imagePullPolicy": "IfNotPresent"}
    wasmlet.apply(wasi_pod("policy-2", ["echo", "second"], container=keep))
    wasmlet.wait_phase("policy-2", "Succeeded")
    second = wasmlet.kubectl_json("get", "pod", "policy-2")["status"]["containerStatuses"][0]
    assert second["imageID"] == first["imageID"]
    assert "second" in wasmlet.kubectl("logs", "policy-2")
    always = {"image": image, "imagePullPolicy": "Always"}
    wasmlet.apply(wasi_pod("policy-3", ["ignored"], container=always))
    wasmlet.wait_phase("policy-3", "Succeeded")
    third = wasmlet.kubectl_json("get", "pod", "policy-3")["status"]["containerStatuses"][0]
    assert third["imageID"] != first["imageID"]
    assert "hello from wasm" in wasmlet.kubectl("logs", "policy-3")
    never = {"image": f"{registry.host}/e2e/never-pushed:v1", "imagePullPolicy": "Never"}
    wasmlet.apply(wasi_pod("policy-never", ["echo", "x"], container=never))
    wasmlet.kubectl(
        "wait",
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImageNeverPull",
        "pod/policy-never",
        "--timeout=60s",
        timeout=70,
    )
