"""Workload tests: the real kubectl against a control plane with scripted nodes.

The nodes are real node agents (``ClusterHarness.node``) with a scripted provider that
runs pods at once (so they turn Running and Ready through the agent's status writer) and
ends a container that asks to: a first argument ``exit-0`` / ``exit-1`` makes the pod
Succeeded / Failed, as a command exiting would.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._apiclient.client import KubeApi
from kubelet_core._controlplane.clock import ManualClock
from kubelet_core._controlplane.server import ControlPlane
from kubelet_core._controlplane.workloads.base import WorkloadController
from kubelet_core._provider import KubeObject, NodeProfile
from kubelet_core.testing._harness import ClusterHarness
from tests.controlplane.conftest import eventually
from tests.controlplane.test_kubectl import Kubectl
from tests.node.scripted import ScriptedProvider, key_of


class WorkloadProvider(ScriptedProvider):
    """Untainted, and containers whose first arg is ``exit-N`` end with code N."""

    def node_profile(self) -> NodeProfile:
        return NodeProfile(architecture="wasm32-wasi", runtime_version="scripted://1.0")

    async def create_pod(self, pod: KubeObject) -> None:
        await super().create_pod(pod)
        args = [a for c in pod["spec"]["containers"] for a in (c.get("args") or [])]
        exits = [a for a in args if a.startswith("exit-")]
        if exits:
            self.succeed(key_of(pod), int(exits[0].split("-")[1]))


class Env:
    def __init__(self, cluster: ClusterHarness, kubectl: Kubectl) -> None:
        self.cluster = cluster
        self.k = kubectl
        self.cp = cluster.controlplane

    async def json(self, *args: str) -> Any:
        return json.loads(await self.k.out(*args, "-o", "json"))

    async def until(self, check: Any, timeout: float = 30.0) -> Any:
        return await eventually(check, timeout=timeout, interval=0.05)

    async def pods(self, selector: str) -> list[KubeObject]:
        items: list[KubeObject] = (await self.json("get", "pods", "-l", selector))["items"]
        return items

    async def events(self, reason: str) -> list[KubeObject]:
        items: list[KubeObject] = (await self.json("get", "events"))["items"]
        return [e for e in items if e.get("reason") == reason]


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[Env]:
    async with ClusterHarness.start(tmp_path) as cluster:
        yield Env(cluster, Kubectl(kubectl, cluster.controlplane.kubeconfig_path, tmp_path))


@pytest.fixture
async def node(env: Env) -> AsyncIterator[WorkloadProvider]:
    provider = WorkloadProvider()
    async with env.cluster.node(provider, "n1"):
        yield provider


class ClockEnv(Env):
    clock: ManualClock

    def controller(self, name: str) -> WorkloadController:
        assert self.cp.workloads is not None
        return next(c for c in self.cp.workloads.controllers if c.name == name)

    def due(self, controller: str, name: str) -> float | None:
        """When ``controller`` means to look at ``default/name`` again (clock seconds)."""
        later = self.controller(controller)._later
        due = later.get(("default", name))
        return None if due is None else due - self.clock.time()

    async def create(self, manifest: str) -> None:
        path = self.k.workdir / "manifest.yaml"
        path.write_text(manifest)
        await self.k.out("create", "-f", str(path))

    async def job(self, name: str) -> dict[str, Any]:
        job: dict[str, Any] = await self.json("get", "job", name)
        return job


@contextlib.asynccontextmanager
async def clock_env(tmp_path: Path, kubectl: str) -> AsyncIterator[ClockEnv]:
    """A cluster whose control plane goes by a ManualClock (nodes stay Ready for an hour of it)."""
    clock = ManualClock()
    async with ControlPlane(
        tmp_path / "controlplane",
        kubeconfig_path=tmp_path / "kubeconfig",
        clock=clock,
        # An hour: moving the clock minutes must not make a node Unknown (pod GC stays on).
        node_monitor_grace=3600.0,
    ) as cp:
        api = await KubeApi.from_kubeconfig(cp.kubeconfig_path)
        try:
            cluster = ClusterHarness(cp, api, tmp_path)
            e = ClockEnv(cluster, Kubectl(kubectl, cp.kubeconfig_path, tmp_path))
            e.clock = clock
            yield e
        finally:
            await api.close()
