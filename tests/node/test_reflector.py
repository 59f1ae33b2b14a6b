"""The reflector against the embedded control plane over real HTTPS.

What client-go's reflector promises and the node relies on: a dropped stream
resumes from the last resourceVersion (no relist, nothing missed), a version
that left the server's history ("too old resource version", 410) relists,
and bookmarks move the resourceVersion on while nothing of ours changes.
Connections are dropped for real, by a loopback TCP relay between client
and server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from kubelet_core._apiclient import KubeApi
from kubelet_core._apiclient.backoff import Backoff
from kubelet_core._apiclient.objects import name, resource_version
from kubelet_core._apiclient.reflector import EventType, Reflector
from kubelet_core._controlplane import ControlPlane

KubeObject = dict[str, Any]
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
#: Ours only (the namespace also holds kube-root-ca.crt, published by the control plane).
OURS = {"labelSelector": "test=reflector"}


class Owner:
    """Records what the reflector reports, with awaitable arrivals."""

    def __init__(self) -> None:
        self.lists: list[list[str]] = []
        self.events: list[tuple[EventType, str]] = []
        self._arrived = asyncio.Condition()

    def replaced(self, items: list[KubeObject]) -> None:
        self.lists.append(sorted(name(item) for item in items))
        asyncio.get_running_loop().create_task(self._notify())

    def event(self, kind: EventType, obj: KubeObject) -> None:
        self.events.append((kind, name(obj)))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    async def until(self, check: Any, timeout: float = 10.0) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(check), timeout)


class Relay:
    """A loopback TCP relay to the control plane that can drop and refuse connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pairs.append((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()

    def drop(self) -> None:
        """Cut every open connection, as a failing network or load balancer does."""
        for down, up in self._pairs:
            down.transport.abort()
            up.transport.abort()
        self._pairs.clear()

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest_asyncio.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    async with ControlPlane(tmp_path / "cp", port=0, watch_history=3, bookmark_interval=0.2) as cp:
        yield cp


@pytest_asyncio.fixture
async def api(plane: ControlPlane) -> AsyncIterator[KubeApi]:
    client = await KubeApi.from_kubeconfig(plane.kubeconfig_path)
    try:
        yield client
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def running(reflector: Reflector, *, listed: bool = False) -> AsyncIterator[None]:
    task = asyncio.create_task(reflector.run(listed=listed))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def configmap(api: KubeApi, cm_name: str) -> KubeObject:
    return await api.create(
        CONFIGMAPS,
        {"metadata": {"name": cm_name, "labels": {"test": "reflector"}}, "data": {"k": "v"}},
    )


async def test_a_dropped_stream_resumes_without_relisting(plane: ControlPlane) -> None:
    relay = Relay(plane.port)
    await relay.start()
    admin = await KubeApi.from_kubeconfig(plane.kubeconfig_path)
    through_relay = KubeApi(
        f"https://127.0.0.1:{relay.port}", ssl_context=plane.pki.client_ssl_context()
    )
    owner = Owner()
    opened = asyncio.Event()
    reflector = Reflector(
        through_relay,
        CONFIGMAPS,
        owner,
        selector=OURS,
        backoff=Backoff(0.05, 0.2),
        on_open=opened.set,
    )
    try:
        await configmap(admin, "before")
        async with running(reflector):
            await asyncio.wait_for(opened.wait(), 10)
            assert owner.lists == [["before"]]
            relay.refusing = True
            relay.drop()
            opened.clear()
            await configmap(admin, "meanwhile")  # while no watch is open
            relay.refusing = False
            await owner.until(lambda: ("ADDED", "meanwhile") in owner.events)
            assert opened.is_set()
        assert reflector.lists == 1  # resumed from the resourceVersion it had
        assert reflector.watches >= 2
        assert owner.lists == [["before"]]
        assert owner.events == [("ADDED", "meanwhile")]
    finally:
        await through_relay.close()
        await admin.close()
        await relay.stop()


async def test_a_too_old_resource_version_relists(api: KubeApi) -> None:
    owner = Owner()
    reflector = Reflector(api, CONFIGMAPS, owner, selector=OURS, backoff=Backoff(0.05, 0.2))
    assert await reflector.list() == []
    stale = reflector.resource_version
    for index in range(5):  # more changes than the server's history (3) holds
        await configmap(api, f"cm-{index}")
    await api.delete(f"{CONFIGMAPS}/cm-0")
    assert reflector.resource_version == stale
    async with running(reflector, listed=True):
        # The watch from `stale` is answered with an ERROR event, code 410: relist.
        await owner.until(lambda: len(owner.lists) == 1)
    assert owner.lists == [["cm-1", "cm-2", "cm-3", "cm-4"]]
    assert reflector.lists == 2
    assert int(reflector.resource_version) > int(stale)


class ObservedReflector(Reflector):
    """A reflector that also says when it has handled a raw event (bookmarks included)."""

    handled: asyncio.Event

    def handle(self, event: KubeObject) -> None:
        super().handle(event)
        self.handled.set()


async def test_bookmarks_advance_the_resource_version(api: KubeApi) -> None:
    owner = Owner()
    opened = asyncio.Event()
    reflector = ObservedReflector(
        api,
        CONFIGMAPS,
        owner,
        selector={"fieldSelector": "metadata.name=watched"},
        on_open=opened.set,
    )
    reflector.handled = asyncio.Event()
    async with running(reflector):
        await asyncio.wait_for(opened.wait(), 10)
        listed_at = int(reflector.resource_version)
        other = await configmap(api, "unrelated")  # not ours: only a bookmark tells of it
        target = int(resource_version(other))
        assert target > listed_at
        async with asyncio.timeout(10):
            while int(reflector.resource_version) < target:  # a bookmark every 0.2 s
                reflector.handled.clear()
                await reflector.handled.wait()
    assert int(reflector.resource_version) == target
    assert owner.events == []
    assert owner.lists == [[]]
    assert reflector.lists == 1
