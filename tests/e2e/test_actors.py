"""Signed waSCC actors through the whole stack: ``wasmlet up``, a real kubectl, real HTTP.

Everything a user does with an actor, the way a user does it: ``kubectl apply`` a
pod, find the actor's address in its ``ActorListening`` event or ``kubectl logs``,
talk HTTP to it, read its log, delete it.  Actors that must be refused (unsigned,
one byte changed, expired, wrong issuer) are built here from the committed test
actors and keys with the claims API and pushed to a real registry, so the node
pulls them like any image.  One ``wasmlet up`` serves the module; the issuer
allow-list needs a second one, started with ``WASMLET_WASCC_ALLOWED_ISSUERS``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.components import clang_path, require
from tests.e2e.conftest import REPO, Wasmlet, free_port, start_wasmlet, stop_wasmlet
from tests.fixtures.registry import RegistryProcess
from wasmlet_wascc import sections
from wasmlet_wascc.claims import ClaimsError, sign_actor, verify_actor
from wasmlet_wascc.keys import KeyPair, Role

ACTORS = REPO / "testdata" / "actors"
BUNDLED = REPO / "src" / "providers" / "wascc" / "wasmlet_wascc" / "modules"
URL = re.compile(r"serves HTTP on (http://[\d.]+:(\d+))")


def actor_pod(
    name: str, image: str, *, ports: list[dict[str, Any]] | None = None, restart: str = "Always"
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "actor", "image": image, "imagePullPolicy": "IfNotPresent"}
    if ports is not None:
        container["ports"] = ports
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": restart,
            "nodeSelector": {"kubernetes.io/arch": "wasm32-wascc"},
            "tolerations": [{"key": "kubernetes.io/arch", "operator": "Exists"}],
            "containers": [container],
        },
    }


def wait_ready(wasmlet: Wasmlet, *pods: str) -> None:
    wasmlet.kubectl(
        "wait",
        "--for=condition=Ready",
        *(f"pod/{pod}" for pod in pods),
        "--timeout=60s",
        timeout=70,
    )


def event(wasmlet: Wasmlet, pod: str, reason: str, timeout: float = 20) -> dict[str, Any]:
    """The pod's event with ``reason`` (the recorder writes events asynchronously)."""
    deadline = time.monotonic() + timeout
    selector = f"involvedObject.name={pod},reason={reason}"
    while True:
        items = wasmlet.kubectl_json("get", "events", "--field-selector", selector)["items"]
        if items:
            return dict(items[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {reason} event for pod {pod} within {timeout}s")
        time.sleep(0.1)


def actor_url(wasmlet: Wasmlet, pod: str) -> str:
    """The actor's address as a user finds it: the ``wasmlet:`` line of ``kubectl logs``.

    The line is written before the container becomes Running, so it is there once
    the pod is Ready; the ``ActorListening`` event says the same.
    """
    found = URL.search(wasmlet.kubectl("logs", pod))
    assert found, wasmlet.kubectl("logs", pod)
    return found.group(1)


def get(url: str, *, data: bytes | None = None, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def container_status(wasmlet: Wasmlet, pod: str) -> dict[str, Any]:
    return dict(wasmlet.kubectl_json("get", "pod", pod)["status"]["containerStatuses"][0])


def refused_connection(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


# -- actors built for the tests --------------------------------------------------------------


def key(name: str) -> KeyPair:
    return KeyPair.from_seed((ACTORS / "keys" / f"{name}.nk").read_text())


def resigned(name: str, issuer: KeyPair, **options: Any) -> bytes:
    caps = {"sneaky": ["http_server", "logging"], "spin": ["http_server"]}.get(
        name, ["http_server", "logging"]
    )
    module = (ACTORS / f"{name}.wasm").read_bytes()
    return sign_actor(module, issuer, key(name), capabilities=caps, name=name, **options)


def tampered(module: bytes) -> bytes:
    """One byte of the code changed, the claims left as signed."""
    code = next(s for s in sections.sections(module) if s.id == 10)
    offset = (code.payload_start + code.end) // 2
    return module[:offset] + bytes([module[offset] ^ 0x01]) + module[offset + 1 :]


@pytest.fixture(scope="module")
def images(registry: RegistryProcess) -> dict[str, str]:
    """Push the non-bundled actors; name -> image reference."""
    issuer = key("issuer")
    echo = (ACTORS / "echo.wasm").read_bytes()
    modules = {
        "sneaky": (ACTORS / "sneaky.wasm").read_bytes(),
        "spin": (ACTORS / "spin.wasm").read_bytes(),
        "unsigned": sections.strip_custom_sections(echo, sections.JWT_SECTION),
        "tampered": tampered(echo),
        "expired": resigned("echo", issuer, now=int(time.time()) - 7200, expires_in_seconds=3600),
    }
    with pytest.raises(ClaimsError):
        verify_actor(modules["tampered"])

    async def push_all() -> None:
        for name, data in modules.items():
            await registry.push(data, f"e2e-actors/{name}:v1")

    asyncio.run(push_all())
    return {name: f"{registry.host}/e2e-actors/{name}:v1" for name in modules}


# -- tests --------------------------------------------------------------------------------------


def test_bundled_actors_are_the_signed_test_actors() -> None:
    for name in ("echo", "counter"):
        assert (BUNDLED / f"{name}.wasm").read_bytes() == (ACTORS / f"{name}.wasm").read_bytes()


def test_echo_example_serves_logs_and_frees_its_port(wasmlet: Wasmlet) -> None:
    wasmlet.kubectl("apply", "-f", str(REPO / "examples" / "echo-actor.yaml"))
    wait_ready(wasmlet, "echo-actor")
    pod = wasmlet.kubectl_json("get", "pod", "echo-actor")
    assert pod["spec"]["nodeName"] == "wasmlet-wascc" and pod["status"]["phase"] == "Running"
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] is True and status["containerID"].startswith("wascc://")
    url = actor_url(wasmlet, "echo-actor")
    listening = event(wasmlet, "echo-actor", "ActorListening")
    assert listening["type"] == "Normal" and url in listening["message"]

    assert get(f"{url}/hello?who=e2e") == (200, "GET /hello?who=e2e")
    assert get(f"{url}/", data=b"posted body") == (200, "posted body")
    logs = wasmlet.kubectl("logs", "echo-actor")
    assert "INFO GET /hello?who=e2e" in logs and "INFO POST /" in logs
    assert "issuer AATXYTCE63DCNGLDXZITZGLJBPZRUNS3HRDQNFYBOQXUAI354E6YWCQN" in logs

    wasmlet.kubectl("delete", "pod", "echo-actor", "--grace-period=5")  # waits until gone
    assert refused_connection(url)


def test_counter_increments_through_keyvalue(wasmlet: Wasmlet) -> None:
    wasmlet.kubectl("apply", "-f", str(REPO / "examples" / "counter-actor.yaml"))
    wait_ready(wasmlet, "counter-actor")
    url = actor_url(wasmlet, "counter-actor")
    path = f"{url}/e2e-{time.monotonic_ns()}"
    assert [get(path) for _ in range(3)] == [(200, "1"), (200, "2"), (200, "3")]
    assert get(f"{path}-other") == (200, "1")  # one key per path
    assert "INFO 3" in wasmlet.kubectl("logs", "counter-actor")
    wasmlet.kubectl("delete", "pod", "counter-actor", "--grace-period=5")


def test_hundred_concurrent_requests(wasmlet: Wasmlet) -> None:
    wasmlet.apply(actor_pod("echo-load", "examples.wasmlet.dev/echo-actor:v1"))
    wait_ready(wasmlet, "echo-load")
    url = actor_url(wasmlet, "echo-load")

    async def load() -> tuple[list[tuple[int, str]], float]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one(i: int) -> tuple[int, str]:
                async with http.post(f"{url}/load", data=f"request {i}".encode()) as response:
                    return response.status, await response.text()

            started = time.perf_counter()
            answers = await asyncio.gather(*(one(i) for i in range(100)))
            return answers, time.perf_counter() - started

    answers, elapsed = asyncio.run(load())
    assert answers == [(200, f"request {i}") for i in range(100)]
    assert elapsed < 10, elapsed
    print(f"100 concurrent requests answered in {elapsed * 1000:.0f} ms")
    assert container_status(wasmlet, "echo-load")["restartCount"] == 0
    wasmlet.kubectl("delete", "pod", "echo-load", "--grace-period=5")


def test_second_pod_on_a_taken_container_port_gets_one_from_the_range(wasmlet: Wasmlet) -> None:
    port = free_port()
    ports = [{"containerPort": port}]
    wasmlet.apply(actor_pod("port-first", "examples.wasmlet.dev/echo-actor:v1", ports=ports))
    wait_ready(wasmlet, "port-first")
    wasmlet.apply(actor_pod("port-second", "examples.wasmlet.dev/echo-actor:v1", ports=ports))
    wait_ready(wasmlet, "port-second")
    first, second = actor_url(wasmlet, "port-first"), actor_url(wasmlet, "port-second")
    assert first == f"http://127.0.0.1:{port}"
    second_port = int(second.rsplit(":", 1)[1])
    assert 30000 <= second_port <= 32767
    assert f"(port {port} was taken)" in event(wasmlet, "port-second", "ActorListening")["message"]
    assert get(f"{first}/one") == (200, "GET /one")
    assert get(f"{second}/two") == (200, "GET /two")
    wasmlet.kubectl("delete", "pod", "port-first", "port-second", "--grace-period=5")
    assert refused_connection(first) and refused_connection(second)


def test_host_port_in_use_is_a_clear_error(wasmlet: Wasmlet) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ports = [{"containerPort": 8080, "hostPort": port}]
        wasmlet.apply(
            actor_pod(
                "host-port", "examples.wasmlet.dev/echo-actor:v1", ports=ports, restart="Never"
            )
        )
        wasmlet.wait_phase("host-port", "Failed")
    terminated = container_status(wasmlet, "host-port")["state"]["terminated"]
    assert terminated["reason"] == "HostPortInUse"
    found = event(wasmlet, "host-port", "HostPortInUse")
    assert found["type"] == "Warning" and f"hostPort {port} is in use" in found["message"]
    wasmlet.kubectl("delete", "pod", "host-port", "--grace-period=0", "--force")


@pytest.fixture(scope="module")
def refused(wasmlet: Wasmlet, images: dict[str, str]) -> Iterator[None]:
    """The pods whose actors must never run, applied together."""
    wasmlet.apply(
        *(
            actor_pod(f"refused-{name}", images[name], restart="Never")
            for name in ("unsigned", "tampered", "expired")
        )
    )
    yield
    wasmlet.kubectl(
        "delete",
        "pods",
        "refused-unsigned",
        "refused-tampered",
        "refused-expired",
        "--grace-period=0",
        "--force",
    )


@pytest.mark.parametrize(
    ("name", "reason", "message"),
    [
        ("unsigned", "ActorNotSigned", "no jwt section"),
        ("tampered", "ActorHashMismatch", "changed after signing"),
        ("expired", "ActorClaimsExpired", "expired at"),
    ],
)
def test_refused_actor(
    wasmlet: Wasmlet, refused: None, name: str, reason: str, message: str
) -> None:
    pod = f"refused-{name}"
    wasmlet.wait_phase(pod, "Failed")
    status = container_status(wasmlet, pod)
    assert status["state"]["terminated"]["reason"] == reason
    assert status["ready"] is False
    found = event(wasmlet, pod, reason)
    assert found["type"] == "Warning" and message in found["message"]
    wide = wasmlet.kubectl("get", "pod", pod)
    assert reason in wide


def test_unauthorized_capability_call_is_refused_and_the_actor_keeps_running(
    wasmlet: Wasmlet, images: dict[str, str]
) -> None:
    wasmlet.apply(actor_pod("sneaky", images["sneaky"]))
    wait_ready(wasmlet, "sneaky")
    url = actor_url(wasmlet, "sneaky")
    for _ in range(2):
        status, body = get(f"{url}/publish")
        assert status == 403
        assert "not authorized for capability wascc:messaging" in body
    status_now = container_status(wasmlet, "sneaky")
    assert status_now["ready"] is True and status_now["restartCount"] == 0
    wasmlet.kubectl("delete", "pod", "sneaky", "--grace-period=5")


def test_spinning_call_is_interrupted_and_the_actor_keeps_serving(
    wasmlet: Wasmlet, images: dict[str, str]
) -> None:
    wasmlet.apply(actor_pod("spin", images["spin"]))
    wait_ready(wasmlet, "spin")
    url = actor_url(wasmlet, "spin")

    async def spin_and_serve() -> tuple[tuple[int, float], tuple[int, str, float]]:
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()

            async def spin() -> tuple[int, float]:
                async with http.get(f"{url}/spin") as response:
                    await response.read()
                    return response.status, time.perf_counter() - started

            async def normal() -> tuple[int, str, float]:
                async with http.get(f"{url}/") as response:
                    return response.status, await response.text(), time.perf_counter() - started

            return await asyncio.gather(spin(), normal())

    (spin_status, spin_took), (ok_status, ok_body, ok_took) = asyncio.run(spin_and_serve())
    assert spin_status == 504 and 0.9 < spin_took < 5, spin_took
    assert (ok_status, ok_body) == (200, "ok") and ok_took < spin_took  # the other instance
    assert get(f"{url}/after") == (200, "ok")  # the interrupted instance was replaced
    status = container_status(wasmlet, "spin")
    assert status["ready"] is True and status["restartCount"] == 0
    wasmlet.kubectl("delete", "pod", "spin", "--grace-period=5")


def test_issuer_allow_list_refuses_other_issuers(
    tmp_path: Path, kubectl: str, registry: RegistryProcess
) -> None:
    trusted = KeyPair.generate(Role.ACCOUNT)
    signed = resigned("echo", trusted)
    asyncio.run(registry.push(signed, "e2e-actors/echo-trusted:v1"))
    guarded = start_wasmlet(
        tmp_path,
        kubectl,
        "--provider",
        "wascc",
        env={"WASMLET_WASCC_ALLOWED_ISSUERS": trusted.public_key},
    )
    try:
        guarded.apply(
            actor_pod("test-issuer", "examples.wasmlet.dev/echo-actor:v1", restart="Never"),
            actor_pod("trusted", f"{registry.host}/e2e-actors/echo-trusted:v1"),
        )
        guarded.wait_phase("test-issuer", "Failed")
        terminated = container_status(guarded, "test-issuer")["state"]["terminated"]
        assert terminated["reason"] == "IssuerNotAllowed"
        found = event(guarded, "test-issuer", "IssuerNotAllowed")
        assert found["type"] == "Warning"
        assert "not in this node's allowed issuers" in found["message"]
        wait_ready(guarded, "trusted")
        assert get(f"{actor_url(guarded, 'trusted')}/ok") == (200, "GET /ok")
    finally:
        assert stop_wasmlet(guarded) == 0, "".join(guarded.output[-50:])


DOC = REPO / "docs" / "actors.md"
DOC_FLAGS = (
    "--target=wasm32 -O2 -nostdlib "
    "-Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-debug -Wl,--compress-relocations"
)


@pytest.mark.needs_clang
def test_docs_hello_actor_builds_signs_and_answers(
    wasmlet: Wasmlet, registry: RegistryProcess, tmp_path: Path
) -> None:
    """docs/actors.md steps 1-5 as written: its C handler, clang flags and sign command."""
    clang = require(clang_path(), "clang-14 with the wasm32 target")
    text = DOC.read_text()
    assert DOC_FLAGS.replace("-Wl,--no-entry", "\\\n    -Wl,--no-entry") in text
    source = re.search(r"```c\n(.*?)```", text, re.S)
    assert source is not None
    (tmp_path / "hello.c").write_text(source.group(1))
    for header in (ACTORS / "src").glob("*.h"):
        shutil.copy(header, tmp_path)
    subprocess.run(
        [clang, *DOC_FLAGS.split(), "-o", "hello.wasm", "hello.c"], cwd=tmp_path, check=True
    )
    cli = [sys.executable, "-m", "wasmlet_wascc.cli"]
    subprocess.run([*cli, "keygen", "-o", "issuer.nk"], cwd=tmp_path, check=True)
    sign = [
        *cli,
        "sign",
        "hello.wasm",
        "--issuer-seed",
        "issuer.nk",
        "--caps",
        "wascc:http_server,wascc:logging",
        "--name",
        "hello",
        "--ver",
        "1.0.0",
    ]
    assert " ".join(sign[len(cli) :][:4]) in text.replace("\\\n    ", "")
    subprocess.run(sign, cwd=tmp_path, check=True, capture_output=True)
    inspect = subprocess.run(
        [*cli, "inspect", "hello.wasm"], cwd=tmp_path, capture_output=True, text=True
    )
    assert inspect.returncode == 0 and "Valid" in inspect.stdout, inspect.stdout
    asyncio.run(registry.push(tmp_path / "hello.wasm", "e2e-actors/docs-hello:v1"))

    wasmlet.apply(actor_pod("docs-hello", f"{registry.host}/e2e-actors/docs-hello:v1"))
    wait_ready(wasmlet, "docs-hello")
    url = actor_url(wasmlet, "docs-hello")
    assert get(f"{url}/from-docs") == (200, "hello from an actor\n")
    assert "INFO /from-docs" in wasmlet.kubectl("logs", "docs-hello")
    wasmlet.kubectl("delete", "pod", "docs-hello", "--grace-period=5")
