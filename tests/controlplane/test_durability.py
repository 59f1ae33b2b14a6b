"""Only durable writes are ever shown: a control plane killed mid-burst loses nothing seen.

A control plane runs in a subprocess; a watcher follows a burst of concurrent creates and
the process is SIGKILLed while they are still flowing. After a restart on the same data
directory (a) every object the watcher saw exists, and (b) a watch resumed from the last
resourceVersion it saw delivers every later write exactly once, in increasing order, and
no later write reuses a resourceVersion the watcher already saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._controlplane.pki import PKI

CMS = "/api/v1/namespaces/default/configmaps"
_SERVE = """
import asyncio, sys
from pathlib import Path
from kubelet_core._controlplane import ControlPlane

async def main() -> None:
    async with ControlPlane(Path(sys.argv[1]), scheduler=False, node_monitor_grace=None) as cp:
        print(cp.port, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def control_plane_process(data: Path) -> AsyncIterator[tuple[int, str]]:
    """(pid, url) of a control plane subprocess; killed with SIGKILL on exit if alive."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVE, str(data), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, "control plane exited before serving"
        yield proc.pid, f"https://127.0.0.1:{int(line)}"
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # the test killed it already
                os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


async def _creator(session: aiohttp.ClientSession, url: str, ssl: object, prefix: str) -> None:
    """Create configmaps until the server goes away."""
    i = 0
    with contextlib.suppress(aiohttp.ClientError, OSError):
        while True:
            body = {"metadata": {"name": f"{prefix}-{i}"}, "data": {"i": str(i)}}
            async with session.post(url + CMS, json=body, ssl=ssl) as resp:
                assert resp.status == 201, await resp.text()
            i += 1


@pytest.mark.slow
async def test_sigkill_mid_burst_loses_nothing_a_watcher_saw(tmp_path: Path) -> None:
    data = tmp_path / "cp"
    seen: dict[str, int] = {}  # name -> resourceVersion in the ADDED event
    last_rv = 0
    async with control_plane_process(data) as (pid, url):
        ssl = PKI(data / "pki").client_ssl_context()
        async with aiohttp.ClientSession() as session:
            async with session.get(url + CMS, ssl=ssl) as resp:
                start = (await resp.json())["metadata"]["resourceVersion"]
            watch = await session.get(
                url + CMS, params={"watch": "true", "resourceVersion": start}, ssl=ssl
            )
            creators = [
                asyncio.ensure_future(_creator(session, url, ssl, f"w{n}")) for n in range(8)
            ]
            with contextlib.suppress(aiohttp.ClientError, OSError, ValueError):
                while line := await asyncio.wait_for(watch.content.readline(), 30):
                    event = json.loads(line)
                    assert event["type"] == "ADDED"
                    rv = int(event["object"]["metadata"]["resourceVersion"])
                    assert rv > last_rv  # a watch delivers in resourceVersion order
                    seen[event["object"]["metadata"]["name"]] = last_rv = rv
                    if len(seen) == 300:
                        os.kill(pid, signal.SIGKILL)  # mid-burst: creators still writing
            await asyncio.gather(*creators, return_exceptions=True)
            watch.close()
    assert len(seen) >= 300

    async with control_plane_process(data) as (_pid, url):
        ssl = PKI(data / "pki").client_ssl_context()
        async with aiohttp.ClientSession() as session:
            async with session.get(url + CMS, ssl=ssl) as resp:
                listed = await resp.json()
            stored = {
                item["metadata"]["name"]: int(item["metadata"]["resourceVersion"])
                for item in listed["items"]
            }
            # (a) every object the watcher saw survived, as it was seen.
            assert {name: stored.get(name) for name in seen} == seen
            assert int(listed["metadata"]["resourceVersion"]) >= last_rv
            # Committed before the kill but not yet read by the watcher:
            backlog = {n for n, rv in stored.items() if rv > last_rv}

            # (b) resume from the last seen resourceVersion, then write more.
            watch = await session.get(
                url + CMS, params={"watch": "true", "resourceVersion": str(last_rv)}, ssl=ssl
            )
            assert watch.status == 200
            later = [f"after-{i}" for i in range(20)]
            for name in later:
                async with session.post(url + CMS, json={"metadata": {"name": name}}, ssl=ssl) as r:
                    assert r.status == 201, await r.text()
            delivered: list[tuple[str, int]] = []
            while len(delivered) < len(backlog) + len(later):
                event = json.loads(await asyncio.wait_for(watch.content.readline(), 10))
                assert event["type"] == "ADDED", event
                meta = event["object"]["metadata"]
                delivered.append((meta["name"], int(meta["resourceVersion"])))
            watch.close()
    names = [name for name, _rv in delivered]
    rvs = [rv for _name, rv in delivered]
    assert sorted(names) == sorted(backlog | set(later))  # none skipped, none repeated
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs) and rvs[0] > last_rv
