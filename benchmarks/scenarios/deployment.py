"""A Deployment of ``--deployment-replicas`` (1,000) staying pods rolled out on one node.

What a user sees after ``kubectl create deployment --replicas=1000`` (issue 15): the
seconds from the Deployment's creation until every replica is Running, and until the
Deployment itself reports them all available; then the same for scaling it to zero.
It runs twice against the same control plane: on the floor node first (the control
plane's Deployment and ReplicaSet controllers and scheduler with a node that marks a
pod Running the moment it is bound, see :mod:`benchmarks.floor`), then on a wasmlet
node with kubelet's default API budget.  Their ratio is what the node adds to a
rollout; the floor alone is what the controllers cost.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from benchmarks import pods
from benchmarks.context import Bench, Figures
from benchmarks.pods import RUN_LABEL, KubeObject, PodTracker, sleeper
from benchmarks.processes import Child, running
from benchmarks.stats import ratio
from kubelet_core._apiclient import ApiError


def deployment(name: str, node: str, run: str, replicas: int) -> KubeObject:
    """The benchmark's staying pod as a Deployment's template (restartPolicy Always)."""
    template = sleeper("template", node, run)
    template["spec"]["restartPolicy"] = "Always"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": pods.NAMESPACE, "labels": {RUN_LABEL: run}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {RUN_LABEL: run}},
            "template": {"metadata": {"labels": {RUN_LABEL: run}}, "spec": template["spec"]},
        },
    }


def _deployments() -> str:
    return f"/apis/apps/v1/namespaces/{pods.NAMESPACE}/deployments"


async def run(bench: Bench) -> Figures:
    floor_node = bench.node("deployment-floor")
    floor = Child(
        "floor",
        [
            sys.executable,
            "-m",
            "benchmarks.floor",
            "--kubeconfig",
            str(bench.kubeconfig),
            "--node",
            floor_node,
        ],
        bench.root / "floor-deployment.log",
    )
    async with running(floor):
        floor_figures = await rollout(bench, floor_node)
    await bench.forget_node(floor_node)
    node = bench.node("deployment")
    replicas = bench.params.deployment_replicas
    async with bench.agent(node, max_pods=replicas + 20) as agent:
        cpu_before = agent.sample()
        wasmlet = await rollout(bench, node)
        wasmlet["agent_cpu_seconds"] = agent.sample().cpu_seconds - cpu_before.cpu_seconds
    figures: Figures = {"replicas": replicas, "wasmlet": wasmlet, "floor": floor_figures}
    for key in ("seconds_to_all_running", "seconds_to_available", "seconds_to_scaled_down"):
        figures[f"ratio_{key}"] = ratio(wasmlet[key], floor_figures[key])
    return figures


async def rollout(bench: Bench, node: str) -> Figures:
    """Create the Deployment on ``node``, wait for all Running and available, scale to 0."""
    replicas = bench.params.deployment_replicas
    run = bench.run_label("deployment")
    name = run
    timeout = bench.params.timeout
    async with PodTracker(bench.api, run) as tracker, _removed_after(bench, name):
        began = time.perf_counter()
        await bench.api.request("POST", _deployments(), body=deployment(name, node, run, replicas))
        await _wait(tracker, lambda: len(tracker.running) >= replicas, timeout, "Running")
        all_running = time.perf_counter()
        available = await _wait_status(
            bench, name, lambda s: s.get("availableReplicas") == replicas, timeout
        )
        bench.say(f"deployment on {node}: {replicas} Running in {all_running - began:.2f}s")
        scale_began = time.perf_counter()
        await bench.api.request(
            "PATCH",
            f"{_deployments()}/{name}",
            body={"spec": {"replicas": 0}},
            content_type="application/merge-patch+json",
        )
        running_names = list(tracker.running)
        await _wait(
            tracker,
            lambda: all(n in tracker.deleted for n in running_names),
            timeout,
            "scaled down",
        )
        scaled_down = time.perf_counter()
    return {
        "seconds_to_all_running": all_running - began,
        "running_per_s": replicas / (all_running - began),
        "seconds_to_available": available - began,
        "seconds_to_scaled_down": scaled_down - scale_began,
        "deleted_per_s": len(running_names) / (scaled_down - scale_began),
    }


async def _wait(tracker: PodTracker, done: Callable[[], bool], timeout: float, what: str) -> None:
    if not await tracker.wait_for(done, timeout):
        raise TimeoutError(f"deployment: not all pods {what} within {timeout:.0f}s")


async def _wait_status(
    bench: Bench, name: str, done: Callable[[dict[str, Any]], bool], timeout: float
) -> float:
    """Watch the Deployment until ``done(status)``; when that was first seen."""
    path = _deployments()
    params = {"fieldSelector": f"metadata.name={name}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = await bench.api.request("GET", path, params=params)
        for item in listing.get("items") or []:
            if done(item.get("status") or {}):
                return time.perf_counter()
        watch = {
            **params,
            "resourceVersion": listing["metadata"]["resourceVersion"],
            "timeoutSeconds": str(max(1, int(deadline - time.monotonic()))),
        }
        async for event in bench.api.watch(path, params=watch):
            if event.get("type") == "ERROR":
                break
            if done((event.get("object") or {}).get("status") or {}):
                return time.perf_counter()
    raise TimeoutError(f"deployment {name}: not available within {timeout:.0f}s")


@contextlib.asynccontextmanager
async def _removed_after(bench: Bench, name: str) -> AsyncIterator[None]:
    """Delete the Deployment (and so its ReplicaSet and pods) however the block ends."""
    try:
        yield
    finally:
        with contextlib.suppress(ApiError):
            await bench.api.request(
                "DELETE",
                f"{_deployments()}/{name}",
                params={"propagationPolicy": "Background"},
            )
