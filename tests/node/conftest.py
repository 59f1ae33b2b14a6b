"""Fixtures of the node agent tests: a real embedded control plane, an API client,
a fast agent config and the scripted provider.  Helpers wait on watches, not sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kubelet_core._agent import NodeAgent
from kubelet_core._apiclient import ApiError, KubeApi
from kubelet_core._config import (
    ApiClientConfig,
    HeartbeatConfig,
    IdentityConfig,
    NodeConfig,
    ShutdownConfig,
    StorageConfig,
)
from kubelet_core._controlplane import ControlPlane
from kubelet_core._provider import KubeObject
from kubelet_core.testing._harness import with_sections
from tests.node.scripted import ScriptedProvider

Predicate = Callable[[KubeObject], bool]


@pytest_asyncio.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    async with ControlPlane(tmp_path / "cp", port=0) as plane:
        yield plane


@pytest_asyncio.fixture
async def api(cp: ControlPlane) -> AsyncIterator[KubeApi]:
    client = await KubeApi.from_kubeconfig(cp.kubeconfig_path)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def node_config(cp: ControlPlane, tmp_path: Path) -> Callable[..., NodeConfig]:
    """``node_config("n1", pods={"max_pods": 5})``: fast timings, sections changed by keyword."""

    def make(node_name: str = "node-a", **sections: Any) -> NodeConfig:
        base = NodeConfig(
            identity=IdentityConfig(name=node_name),
            api=ApiClientConfig(kubeconfig=cp.kubeconfig_path),
            heartbeat=HeartbeatConfig(
                lease_renew_interval_seconds=0.3,
                node_status_report_frequency_seconds=1.0,
                sync_frequency_seconds=2.0,
            ),
            storage=StorageConfig(data_dir=tmp_path / "data"),
            shutdown=ShutdownConfig(grace_period_seconds=5.0, keep_pods_on_exit=False),
        )
        return with_sections(base, sections)

    return make


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@contextlib.asynccontextmanager
async def running(provider: ScriptedProvider, config: NodeConfig) -> AsyncIterator[NodeAgent]:
    """Run an agent in the background like the CLI does; stop it at the end."""
    agent = NodeAgent(provider, config)
    await agent.start()
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        await agent.stop()
        await asyncio.wait_for(task, 10)


def pod_manifest(
    name: str,
    node: str | None = "node-a",
    *,
    namespace: str = "default",
    containers: int = 1,
    **metadata: Any,
) -> KubeObject:
    spec: KubeObject = {
        "containers": [
            {"name": f"c{i}", "image": "example.test/hello:v1"} for i in range(containers)
        ],
        "tolerations": [{"operator": "Exists"}],
        "terminationGracePeriodSeconds": 3,
    }
    if node is not None:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": spec,
    }


async def wait_for(
    api: KubeApi, collection: str, name: str, predicate: Predicate, timeout: float = 15.0
) -> KubeObject:
    """Watch ``collection`` until object ``name`` satisfies ``predicate`` (None: absent)."""
    last: KubeObject | None = None

    async def loop() -> KubeObject:
        nonlocal last
        while True:
            listing = await api.get(collection, params={"fieldSelector": f"metadata.name={name}"})
            items = listing.get("items") or []
            last = items[0] if items else None
            if last is not None and predicate(last):
                return last
            params = {
                "fieldSelector": f"metadata.name={name}",
                "resourceVersion": listing["metadata"]["resourceVersion"],
            }
            async for event in api.watch(collection, params=params):
                if event["type"] in ("ADDED", "MODIFIED"):
                    last = event["object"]
                    if predicate(last):
                        return last
                elif event["type"] == "ERROR":
                    break  # expired: list again

    try:
        return await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"{collection}/{name} never matched; last: {last}") from None


async def wait_gone(api: KubeApi, path: str, timeout: float = 15.0) -> None:
    collection, _, name = path.rpartition("/")

    async def loop() -> None:
        while True:
            try:
                listing = await api.get(
                    collection, params={"fieldSelector": f"metadata.name={name}"}
                )
            except ApiError:
                raise
            if not listing.get("items"):
                return
            params = {
                "fieldSelector": f"metadata.name={name}",
                "resourceVersion": listing["metadata"]["resourceVersion"],
            }
            async for event in api.watch(collection, params=params):
                if event["type"] == "DELETED":
                    return
                if event["type"] == "ERROR":
                    break

    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"{path} still exists") from None


def condition(obj: KubeObject, kind: str) -> KubeObject | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return None
