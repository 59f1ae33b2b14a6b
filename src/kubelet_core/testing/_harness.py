"""Drive a whole node (control plane + agent + provider) from a test, in-process.

This is what provider authors use to test their provider the way it will run:
against a real API server over real HTTP, with the real node agent.  In the
spirit of kopf's ``KopfRunner``::

    async with ClusterHarness.start(tmp_path) as cluster:
        async with cluster.node(MyProvider(), node_name="n1"):
            pod = await cluster.create_pod(pod_manifest("p1", node_name="n1"))
            await cluster.wait_for_pod("default", pod, phase="Succeeded")

The pytest plugin (:mod:`kubelet_core.testing.plugin`, enabled with
``pytest_plugins``) gives this as the ``cluster`` fixture.

Waiting is event-driven: ``wait_for_pod`` watches the pod and returns as soon
as the condition holds, or fails with the last state seen after ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from kubelet_core._agent import NodeAgent
from kubelet_core._apiclient import KubeApi
from kubelet_core._config import (
    ApiClientConfig,
    IdentityConfig,
    NodeConfig,
    ShutdownConfig,
    StorageConfig,
)
from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.runtimeclass import ensure_runtime_classes, runtime_classes_for
from kubelet_core._provider import KubeObject, Provider

PodPredicate = Callable[[KubeObject], bool]


def with_sections(config: NodeConfig, sections: Mapping[str, Any]) -> NodeConfig:
    """``config`` with some sections changed: a section object replaces the section,
    a mapping changes only the fields it names (``pods={"max_pods": 5}``)."""
    changes: dict[str, Any] = {}
    for name, value in sections.items():
        if isinstance(value, Mapping):
            value = dataclasses.replace(getattr(config, name), **value)
        changes[name] = value
    return dataclasses.replace(config, **changes)


def pod_manifest(
    name: str,
    *,
    image: str = "example/module:v1",
    node_name: str | None = None,
    args: list[str] | None = None,
    restart_policy: str = "Never",
    tolerate_wasm: bool = True,
    **spec: Any,
) -> KubeObject:
    """A minimal one-container pod, tolerating the wasm node taints by default."""
    container: KubeObject = {"name": name, "image": image}
    if args is not None:
        container["args"] = args
    body: KubeObject = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [container], "restartPolicy": restart_policy, **spec},
    }
    if node_name:
        body["spec"]["nodeName"] = node_name
    if tolerate_wasm:
        body["spec"].setdefault("tolerations", []).append({"operator": "Exists"})
    return body


class ClusterHarness:
    """A running embedded control plane plus an API client to it."""

    def __init__(self, controlplane: ControlPlane, api: KubeApi, data_dir: Path) -> None:
        self.controlplane = controlplane
        self.api = api
        self.data_dir = data_dir

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, data_dir: Path) -> AsyncIterator[ClusterHarness]:
        controlplane = ControlPlane(
            data_dir / "controlplane", kubeconfig_path=data_dir / "kubeconfig"
        )
        await controlplane.start()
        try:
            api = await KubeApi.from_kubeconfig(controlplane.kubeconfig_path)
            try:
                yield cls(controlplane, api, data_dir)
            finally:
                await api.close()
        finally:
            await controlplane.stop()

    def node_config(self, node_name: str = "test-node", **sections: Any) -> NodeConfig:
        """A config joining this cluster, state under its data dir; see :func:`with_sections`."""
        base = NodeConfig(
            identity=IdentityConfig(name=node_name),
            api=ApiClientConfig(kubeconfig=self.controlplane.kubeconfig_path),
            storage=StorageConfig(data_dir=self.data_dir),
            shutdown=ShutdownConfig(keep_pods_on_exit=False),  # a test's pods end with its agent
        )
        return with_sections(base, sections)

    @contextlib.asynccontextmanager
    async def node(
        self,
        provider: Provider,
        node_name: str = "test-node",
        *,
        config: NodeConfig | None = None,
        **sections: Any,
    ) -> AsyncIterator[NodeAgent]:
        """Run a node agent for ``provider`` until the block ends.

        ``config`` (default :meth:`node_config`) may have sections changed by
        keyword: ``cluster.node(p, "n1", pods={"max_pods": 5})``.
        """
        chosen = config if config is not None else self.node_config(node_name)
        # As `wasmlet up` does: the provider's RuntimeClasses, so a pod naming only
        # `runtimeClassName` lands on this node.
        assert self.controlplane.registry is not None
        await ensure_runtime_classes(
            self.controlplane.registry, runtime_classes_for(provider.node_profile())
        )
        agent = NodeAgent(provider, with_sections(chosen, sections))
        await agent.start()
        runner = asyncio.ensure_future(agent.run())
        try:
            yield agent
        finally:
            await agent.stop()
            await runner  # raises what failed the agent (a crashed controller)

    async def create_pod(self, manifest: KubeObject) -> str:
        namespace = manifest.get("metadata", {}).get("namespace", "default")
        created = await self.api.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods", body=manifest
        )
        return str(created["metadata"]["name"])

    async def get_pod(self, namespace: str, name: str) -> KubeObject:
        pod: KubeObject = await self.api.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{name}"
        )
        return pod

    async def wait_for_pod(
        self,
        namespace: str,
        name: str,
        predicate: PodPredicate | None = None,
        *,
        phase: str | None = None,
        timeout: float = 30.0,
    ) -> KubeObject:
        """Return the pod once ``predicate`` (and/or ``phase``) holds; fail after ``timeout``."""

        def matches(pod: KubeObject) -> bool:
            if phase is not None and pod.get("status", {}).get("phase") != phase:
                return False
            return predicate(pod) if predicate is not None else True

        return await self.wait_for_object(
            f"/api/v1/namespaces/{namespace}/pods", name, matches, timeout=timeout
        )

    async def wait_for_object(
        self, collection: str, name: str, predicate: PodPredicate, *, timeout: float = 30.0
    ) -> KubeObject:
        """Watch ``collection`` for ``name`` until ``predicate`` holds (event-driven)."""
        last: KubeObject | None = None

        async def watch() -> KubeObject:
            nonlocal last
            while True:
                listing = await self.api.request(
                    "GET", collection, params={"fieldSelector": f"metadata.name={name}"}
                )
                for item in listing.get("items", []):
                    last = item
                    if predicate(item):
                        return dict(item)
                params = {
                    "fieldSelector": f"metadata.name={name}",
                    "resourceVersion": listing["metadata"]["resourceVersion"],
                    "allowWatchBookmarks": "true",
                }
                async for event in self.api.watch(collection, params=params):
                    if event.get("type") in {"ADDED", "MODIFIED"}:
                        last = event["object"]
                        if predicate(event["object"]):
                            return dict(event["object"])
                    elif event.get("type") == "ERROR":
                        break  # 410 Gone or similar: list again

        try:
            async with asyncio.timeout(timeout):
                return await watch()
        except TimeoutError:
            status = (last or {}).get("status")
            raise AssertionError(
                f"{collection}/{name}: condition not met within {timeout}s; last status: {status}"
            ) from None

    async def events_for(self, namespace: str, name: str) -> list[KubeObject]:
        listing = await self.api.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            params={"fieldSelector": f"involvedObject.name={name}"},
        )
        return list(listing.get("items", []))
