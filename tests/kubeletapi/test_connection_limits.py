"""Connection limits of the kubelet API: silent connections cannot pile up (audit finding 8).

Attacks over real TCP and TLS against a real server: floods of connections
that never speak, TLS connections that never send a request, a slowloris
header, an idle kept-alive connection, and a flood against a process with a
small ``ulimit -n``.  Every wait is on the socket itself (EOF or reset), under
a timeout; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import ssl
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._kubeletapi import ConnectionLimits, KubeletApiServer
from tests.kubeletapi.conftest import NODE, FileLogProvider, Pki, client_context, fetch

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
CLOSE_ERRORS = (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError)


@pytest.fixture
async def serve(
    provider: FileLogProvider, pki: Pki, tmp_path: Path
) -> AsyncIterator[Callable[[ConnectionLimits], asyncio.Future[KubeletApiServer]]]:
    """Start a kubelet API server with the given limits (client certificates, AlwaysAllow)."""
    servers: list[KubeletApiServer] = []

    async def start(limits: ConnectionLimits) -> KubeletApiServer:
        server = KubeletApiServer(
            provider,
            node_name=NODE,
            host="127.0.0.1",
            port=0,
            cert_dir=tmp_path / "serving",
            client_ca_file=pki.ca.cert,
            api=None,
            limits=limits,
        )
        await server.start()
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        await server.stop()


async def open_many(port: int, count: int) -> list[tuple[Reader, Writer]]:
    """``count`` plain TCP connections that will never send a byte."""
    return list(
        await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(count)))
    )


async def closed_by_server(reader: Reader, timeout: float) -> None:
    """The server ends the connection (EOF or reset) within ``timeout``, sending nothing."""
    try:
        data = await asyncio.wait_for(reader.read(65536), timeout)
    except CLOSE_ERRORS:
        return
    assert data == b"", data


async def at_least_closed(readers: list[Reader], count: int, timeout: float) -> None:
    """At least ``count`` of ``readers`` are closed by the server within ``timeout``."""
    waits = [asyncio.ensure_future(closed_by_server(reader, timeout)) for reader in readers]
    done = 0
    try:
        for finished in asyncio.as_completed(waits):
            with contextlib.suppress(TimeoutError):
                await finished
                done += 1
            if done >= count:
                return
        raise AssertionError(f"only {done} of {len(readers)} connections were closed")
    finally:
        for wait in waits:
            wait.cancel()


def close_all(connections: list[tuple[Reader, Writer]]) -> None:
    for _, writer in connections:
        writer.transport.abort()


async def read_response(reader: Reader) -> tuple[str, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


REQUEST = b"GET /healthz HTTP/1.1\r\nHost: node-a\r\n\r\n"


async def test_a_flood_of_silent_connections_neither_locks_out_nor_lingers(
    serve, pki: Pki, http: aiohttp.ClientSession
) -> None:
    server = await serve(ConnectionLimits(max_connections=40, request_header_timeout=1.0))
    gate = server.connections
    assert gate is not None and gate.cap == 40
    flood = await open_many(server.port, 200)
    try:
        assert gate.open <= 40
        # The API server's own request still gets in, and promptly.
        assert await asyncio.wait_for(fetch(http, server, "/healthz", cert=pki.admin), 5) == (
            200,
            "ok",
        )
        assert gate.open <= 40
        # Every silent connection is closed: pushed out by newer ones, or at its deadline.
        await asyncio.gather(*(closed_by_server(reader, 5) for reader, _ in flood))
        assert gate.evicted > 0
        assert gate.evicted + gate.timed_out >= 200
    finally:
        close_all(flood)


async def test_tls_without_a_request_and_slowloris_headers_are_closed(
    serve, pki: Pki, http: aiohttp.ClientSession
) -> None:
    server = await serve(ConnectionLimits(request_header_timeout=2.0))
    context = client_context(server, pki.admin)
    silent = [
        await asyncio.open_connection("127.0.0.1", server.port, ssl=context) for _ in range(20)
    ]
    slow = [await asyncio.open_connection("127.0.0.1", server.port, ssl=context) for _ in range(5)]
    try:
        for _, writer in slow:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: node-a\r\n")  # never finished
            await writer.drain()
        await asyncio.gather(*(closed_by_server(reader, 5) for reader, _ in silent + slow))
        assert server.connections is not None
        assert server.connections.timed_out == 25
        assert await fetch(http, server, "/healthz", cert=pki.admin) == (200, "ok")
    finally:
        close_all(silent + slow)


async def test_idle_keep_alive_is_closed_and_unauthenticated_peers_are_not_kept(
    serve, pki: Pki
) -> None:
    server = await serve(ConnectionLimits(request_header_timeout=30.0, idle_timeout=1.0))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=client_context(server, pki.admin)
    )
    try:
        writer.write(REQUEST)
        status, headers, body = await read_response(reader)
        assert (status, body) == ("HTTP/1.1 200 OK", b"ok")
        assert headers.get("connection", "").lower() != "close"  # kept alive ...
        await closed_by_server(reader, 5)  # ... until idle for idle_timeout
    finally:
        writer.transport.abort()

    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=client_context(server, None)
    )
    try:
        writer.write(REQUEST)
        status, headers, body = await read_response(reader)
        assert (status, body) == ("HTTP/1.1 401 Unauthorized", b"Unauthorized")
        assert headers["connection"].lower() == "close"
        await closed_by_server(reader, 5)
    finally:
        writer.transport.abort()


async def test_connections_serving_requests_are_not_pushed_out(serve, pki: Pki) -> None:
    server = await serve(ConnectionLimits(max_connections=20, request_header_timeout=30.0))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=client_context(server, pki.admin)
    )
    flood: list[tuple[Reader, Writer]] = []
    try:
        writer.write(REQUEST)
        assert (await read_response(reader))[0] == "HTTP/1.1 200 OK"
        flood = await open_many(server.port, 100)
        # One slot is taken by the serving connection: 19 silent ones may stay, 81 go.
        await at_least_closed([r for r, _ in flood], 81, 5)
        writer.write(REQUEST)  # the kept-alive, authenticated connection still works
        assert (await read_response(reader))[0] == "HTTP/1.1 200 OK"
        assert server.connections is not None and server.connections.open <= 20
    finally:
        writer.transport.abort()
        close_all(flood)


def test_the_cap_leaves_most_descriptors_to_the_pods() -> None:
    limits = ConnectionLimits(max_connections=10_000)
    assert limits.cap(1024) == 256
    assert limits.cap(resource.RLIM_INFINITY) == 10_000
    assert ConnectionLimits().cap(1_000_000) == 256
    assert ConnectionLimits().cap() <= resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4
    with pytest.raises(ValueError):
        ConnectionLimits(max_connections=0)


#: A kubelet API server (default limits) in a process with ``ulimit -n`` 256;
#: each line on stdin makes it open 40 files at once, as starting a pod does.
#: Its answers are the stdout lines starting READY and PROBE (the rest is its log).
LOW_ULIMIT_SERVER = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from pathlib import Path

    from kubelet_core._kubeletapi import KubeletApiServer
    from kubelet_core._provider.base import NodeProfile, Provider

    class Idle(Provider):
        def node_profile(self): return NodeProfile.for_wasm_arch("wasm32-wasi")
        async def create_pod(self, pod): pass
        async def delete_pod(self, pod, grace): pass
        async def get_pod_status(self, pod): return None
        async def list_pods(self): return []

    work, ca = Path(sys.argv[1]), Path(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    async def main():
        server = KubeletApiServer(
            Idle(), node_name="node-a", host="127.0.0.1", port=0,
            cert_dir=work / "serving", client_ca_file=ca, api=None,
        )
        await server.start()
        ready = {"port": server.port, "cert": str(server.serving_cert_file)}
        print("READY", json.dumps(ready), flush=True)
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        while await stdin.readline():
            files = []
            try:
                for i in range(40):
                    files.append(open(work / f"pod-file-{i}", "w"))
                print("PROBE ok", flush=True)
            except OSError as error:
                print(f"PROBE failed: {error}", flush=True)
            finally:
                for f in files:
                    f.close()
        await server.stop()

    asyncio.run(main())
    """
)


async def test_a_flood_under_a_small_ulimit_leaves_descriptors_for_pods(
    pki: Pki, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOW_ULIMIT_SERVER,
        str(tmp_path),
        str(pki.ca.cert),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    flood: list[tuple[Reader, Writer]] = []
    try:
        stdout = process.stdout

        async def answer(prefix: str, timeout: float) -> str:
            async def first() -> str:
                while line := (await stdout.readline()).decode():
                    if line.startswith(prefix + " "):
                        return line[len(prefix) + 1 :].strip()
                raise AssertionError(f"the server exited before answering {prefix}")

            return await asyncio.wait_for(first(), timeout)

        ready = json.loads(await answer("READY", 30))
        port = ready["port"]

        async def connect() -> tuple[Reader, Writer] | None:
            with contextlib.suppress(TimeoutError, OSError):
                return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3)
            return None

        flood = [c for c in await asyncio.gather(*(connect() for _ in range(300))) if c]
        # The node opens a pod's files while the flood is on ...
        process.stdin.write(b"start a pod\n")
        assert await answer("PROBE", 10) == "ok"
        # ... and still answers the API server.
        context = ssl.create_default_context(cafile=ready["cert"])
        context.load_cert_chain(pki.admin.cert, pki.admin.key)
        url = f"https://127.0.0.1:{port}/healthz"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(url, ssl=context) as response,
        ):
            assert (response.status, await response.text()) == (200, "ok")
        assert process.returncode is None
    finally:
        close_all(flood)
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
