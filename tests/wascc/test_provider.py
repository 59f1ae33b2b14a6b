"""WasccProvider end to end below the API server: pods in, HTTP answers out."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp

from tests.components import free_port
from tests.containers.conftest import container
from tests.wascc.conftest import (
    Node,
    actor_bytes,
    actor_path,
    port_is_free,
)
from wasmlet_wascc import sections
from wasmlet_wascc.claims import sign_actor
from wasmlet_wascc.keys import KeyPair, Role

ECHO = "wasmlet.test/echo:v1"
COUNTER = "wasmlet.test/counter:v1"


async def test_echo_actor_serves_http(node: Node, http: aiohttp.ClientSession) -> None:
    port = free_port()
    pod = node.pod("echo", ECHO, port=port)
    url = await node.run(pod)
    assert url == f"http://127.0.0.1:{port}"
    async with http.get(f"{url}/hello?x=1") as response:
        assert response.status == 200
        assert await response.text() == "GET /hello?x=1"
        assert response.headers["content-type"].startswith("text/plain")
    async with http.post(f"{url}/data", data=b"\x00\x01payload") as response:
        assert (response.status, await response.read()) == (200, b"\x00\x01payload")
    event = await node.recorder.event("ActorListening", url)
    assert event.type == "Normal"
    log = node.log_text(pod)
    assert f"wasmlet: actor echo serves HTTP on {url}" in log
    assert "INFO GET /hello?x=1\nINFO POST /data\n" in log
    status = await node.provider.get_pod_status(pod)
    assert status is not None and status["phase"] == "Running"
    assert container(status, "actor")["containerID"].startswith("wascc://")


async def test_counter_increments_through_keyvalue(node: Node, http: aiohttp.ClientSession) -> None:
    first = node.pod("counter-a", COUNTER)
    second = node.pod("counter-b", COUNTER)
    url_a = await node.run(first)
    url_b = await node.run(second)
    counts = []
    for url in (url_a, url_a, url_b, url_a):
        async with http.get(f"{url}/visits") as response:
            counts.append(await response.text())
    # both pods are in one namespace, so they share the node's in-memory store
    assert counts == ["1", "2", "3", "4"]
    async with http.get(f"{url_b}/other") as response:
        assert await response.text() == "1"
    assert "INFO 4" in node.log_text(first)


async def test_unauthorized_capability_gets_an_error(
    node: Node, http: aiohttp.ClientSession
) -> None:
    url = await node.run(node.pod("sneaky", "wasmlet.test/sneaky:v1"))
    async with http.get(f"{url}/publish") as response:
        assert response.status == 403
        assert "not authorized for capability wascc:messaging" in await response.text()


async def test_port_conflict_gets_a_port_from_the_range(
    node_factory: Any, http: aiohttp.ClientSession
) -> None:
    low = free_port()
    node = await node_factory(port_range=(low, low + 50))
    wanted = free_port()
    first = node.pod("echo-1", ECHO, port=wanted)
    second = node.pod("echo-2", ECHO, port=wanted)
    url_1 = await node.run(first)
    url_2 = await node.run(second)
    assert url_1 == f"http://127.0.0.1:{wanted}"
    port_2 = int(url_2.rsplit(":", 1)[1])
    assert low <= port_2 <= low + 50
    assert f"(port {wanted} was taken)" in node.log_text(second)
    for url in (url_1, url_2):
        async with http.get(f"{url}/x") as response:
            assert response.status == 200


async def test_host_port_in_use_fails_the_container(node: Node) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        pod = node.pod("held", ECHO, port=8080, host_port=taken)
        await node.provider.create_pod(pod)
        state = await node.terminated(pod)
    terminated = state.get("state", {}).get("terminated") or state["lastState"]["terminated"]
    assert terminated["reason"] == "HostPortInUse"
    await node.recorder.event("HostPortInUse", str(taken))


async def test_hundred_concurrent_requests(node: Node, http: aiohttp.ClientSession) -> None:
    url = await node.run(node.pod("busy", ECHO))

    async def one(i: int) -> tuple[int, bytes]:
        async with http.post(f"{url}/n", data=f"request {i}".encode()) as response:
            return response.status, await response.read()

    results = await asyncio.gather(*(one(i) for i in range(100)))
    assert results == [(200, f"request {i}".encode()) for i in range(100)]


async def test_stop_frees_the_port(node: Node, http: aiohttp.ClientSession) -> None:
    pod = node.pod("stopper", ECHO, port=free_port())
    url = await node.run(pod)
    port = int(url.rsplit(":", 1)[1])
    assert not port_is_free(port)
    await node.provider.delete_pod(pod, 2.0)
    assert port_is_free(port)
    try:
        async with http.get(f"{url}/") as response:
            raise AssertionError(f"still answering: {response.status}")
    except aiohttp.ClientConnectionError:
        pass


async def test_trap_answers_500_and_the_actor_keeps_serving(
    node: Node, http: aiohttp.ClientSession
) -> None:
    url = await node.run(node.pod("trappy", ECHO))
    async with http.get(f"{url}/trap") as response:
        assert response.status == 500
        assert "unreachable" in await response.text()
    async with http.get(f"{url}/fine") as response:
        assert (response.status, await response.text()) == (200, "GET /fine")


async def test_runaway_call_answers_504(node_factory: Any, http: aiohttp.ClientSession) -> None:
    node = await node_factory(call_timeout_seconds=0.2)
    url = await node.run(node.pod("spinner", "wasmlet.test/spin:v1"))
    async with http.get(f"{url}/spin") as response:
        assert response.status == 504
    async with http.get(f"{url}/") as response:
        assert (response.status, await response.text()) == (200, "ok")


async def test_repeated_traps_terminate_and_the_restart_policy_applies(
    node_factory: Any, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(max_traps=3)
    pod = node.pod("crashy", ECHO)
    url = await node.run(pod)
    for _ in range(3):
        async with http.get(f"{url}/trap") as response:
            assert response.status == 500
    state = await node.terminated(pod)
    terminated = state.get("lastState", {}).get("terminated") or state["state"]["terminated"]
    assert terminated["reason"] == "Error"
    assert "trapped 3 times" in terminated["message"]
    # restartPolicy Always: the actor comes back and serves again
    await node.recorder.status(
        "crashy",
        lambda s: (
            container(s, "actor")["restartCount"] == 1
            and "running" in container(s, "actor")["state"]
        ),
    )
    async with http.get(f"{node.endpoint(pod)}/again") as response:
        assert response.status == 200


async def test_bad_actors_never_run(node_factory: Any, tmp_path: Any) -> None:
    issuer = KeyPair.generate(Role.ACCOUNT)
    stranger = KeyPair.generate(Role.ACCOUNT)
    node = await node_factory(allowed_issuers=[issuer.public_key], allow_local_modules=True)
    raw = sections.strip_custom_sections(actor_bytes("echo"), "jwt")
    tampered = bytearray(sign_actor(raw, issuer, KeyPair.generate(Role.MODULE)))
    tampered[100] ^= 1
    cases = {
        "unsigned": (raw, "ActorNotSigned"),
        "tampered": (bytes(tampered), "ActorHashMismatch"),
        "stranger": (sign_actor(raw, stranger, KeyPair.generate(Role.MODULE)), "IssuerNotAllowed"),
        "expired": (
            sign_actor(raw, issuer, KeyPair.generate(Role.MODULE), expires_in_seconds=-1),
            "ActorClaimsExpired",
        ),
    }
    for name, (module, reason) in cases.items():
        path = tmp_path / f"{name}.wasm"
        path.write_bytes(module)
        pod = node.pod(name, f"file://{path}", restart_policy="Never")
        await node.provider.create_pod(pod)
        state = await node.terminated(pod)
        assert state["state"]["terminated"]["reason"] == reason, name
        await node.recorder.event(reason, pod=name)
        assert f"wasmlet: refusing to run the actor: {reason}" in node.log_text(pod)
        assert (await node.provider.get_pod_status(pod) or {})["phase"] == "Failed"
    assert not node.provider.actors


async def test_local_modules_are_off_by_default(node: Node, tmp_path: Any) -> None:
    path = tmp_path / "echo.wasm"
    path.write_bytes(actor_bytes("echo"))
    pod = node.pod("local", f"file://{path}")
    await node.provider.create_pod(pod)
    status = await node.recorder.status(
        "local",
        lambda s: (
            "waiting" in container(s, "actor").get("state", {})
            and container(s, "actor")["state"]["waiting"]["reason"] == "ErrImagePull"
        ),
    )
    assert "disabled" in container(status, "actor")["state"]["waiting"]["message"]


async def test_actor_pulled_from_a_registry(
    node_factory: Any, registry: Any, http: aiohttp.ClientSession
) -> None:
    await registry.push(actor_path("counter"), "actors/counter:v1")
    node = await node_factory(shared_store=False, insecure_registries=[registry.host])
    pod = node.pod("pulled", f"{registry.host}/actors/counter:v1")
    url = await node.run(pod)
    async with http.get(f"{url}/pulled") as response:
        assert await response.text() == "1"
    status = await node.provider.get_pod_status(pod)
    assert status is not None
    image_id = container(status, "actor")["imageID"]
    assert image_id.startswith(f"{registry.host}/actors/counter@sha256:")


async def test_node_profile(node: Node) -> None:
    profile = node.provider.node_profile()
    assert profile.architecture == "wasm32-wascc"
    assert profile.labels["kubernetes.io/arch"] == "wasm32-wascc"
    assert {t.effect for t in profile.taints} == {"NoSchedule", "NoExecute"}
    assert profile.runtime_version.startswith("wasmtime://50.")


async def test_args_fail_the_pod(node: Node) -> None:
    pod = node.pod("with-args", ECHO)
    pod["spec"]["containers"][0]["args"] = ["--verbose"]
    await node.provider.create_pod(pod)
    status = await node.recorder.phase("with-args", "Failed")
    assert status["reason"] == "ArgsNotSupported"
    assert "configure them through env" in status["message"]


async def test_env_port_is_used_without_container_ports(node: Node) -> None:
    port = free_port()
    url = await node.run(node.pod("env-port", ECHO, env={"PORT": str(port)}))
    assert url == f"http://127.0.0.1:{port}"
