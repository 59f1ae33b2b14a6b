"""Fixtures for control-plane tests: a real ControlPlane over HTTPS and a thin JSON client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane

KubeObject = dict[str, Any]
JSON = "application/json"


class Client:
    """Raw HTTP against the control plane with the admin client certificate."""

    def __init__(self, cp: ControlPlane, session: aiohttp.ClientSession) -> None:
        self.cp = cp
        self.session = session
        self.ssl = cp.pki.client_ssl_context()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = JSON,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        async with self.session.request(
            method,
            self.cp.url + path,
            data=data,
            params=params,
            ssl=self.ssl,
            headers={"Content-Type": content_type} if data is not None else None,
        ) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw) if raw else None
            except ValueError:
                return resp.status, raw.decode()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body)

    async def put(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, body)

    async def patch(self, path: str, body: Any, content_type: str) -> tuple[int, Any]:
        return await self.request("PATCH", path, body, content_type=content_type)

    async def delete(self, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        return await self.request("DELETE", path, body, params=params or None)

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> KubeObject:
        status, obj = await self.request(method, path, body, **kw)
        assert status in (200, 201), (status, obj)
        assert isinstance(obj, dict)
        return obj

    async def watch(self, path: str, **params: str) -> Watch:
        params = {"watch": "true", **params}
        resp = await self.session.get(self.cp.url + path, params=params, ssl=self.ssl)
        assert resp.status == 200, await resp.text()
        return Watch(resp)


class Watch:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next(self, timeout: float = 5.0) -> KubeObject:
        line = await asyncio.wait_for(self.resp.content.readline(), timeout)
        assert line, "watch stream ended"
        event: KubeObject = json.loads(line)
        return event

    async def next_non_bookmark(self, timeout: float = 5.0) -> KubeObject:
        while True:
            event = await self.next(timeout)
            if event["type"] != "BOOKMARK":
                return event

    async def ended(self, timeout: float = 5.0) -> bool:
        line = await asyncio.wait_for(self.resp.content.readline(), timeout)
        return line == b""

    def close(self) -> None:
        self.resp.close()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 5.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` until it returns a truthy value (assertions inside count as falsy)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError:
            if loop.time() > deadline:
                raise
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def pod(name: str, **spec: Any) -> KubeObject:
    body: KubeObject = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "example/app:1"}]},
    }
    body["spec"].update(spec)
    return body


def node(
    name: str,
    *,
    ready: bool = True,
    pods: int = 110,
    labels: dict[str, str] | None = None,
    taints: list[KubeObject] | None = None,
) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {
            "capacity": {"pods": str(pods), "cpu": "4", "memory": "8Gi"},
            "allocatable": {"pods": str(pods), "cpu": "4", "memory": "8Gi"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady",
                    "message": "ready",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0",
                "osImage": "wasm",
                "kernelVersion": "",
                "containerRuntimeVersion": "wasmtime://50.0.1",
                "architecture": "wasm32",
                "operatingSystem": "linux",
            },
        },
    }


async def add_node(client: Client, name: str, **kw: Any) -> KubeObject:
    """Create a node and set its status (status is ignored on create? no: kept on create)."""
    body = node(name, **kw)
    created = await client.ok("POST", "/api/v1/nodes", body)
    created["status"] = body["status"]
    # Unconditional: the node lifecycle controller may already have tainted the new node.
    del created["metadata"]["resourceVersion"]
    return await client.ok("PUT", f"/api/v1/nodes/{name}/status", created)


@pytest.fixture
async def control_plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp:
        yield cp


@pytest.fixture
async def client(control_plane: ControlPlane) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(control_plane, session)
