"""DaemonSets through kubectl over several scripted nodes: taints, nodes coming and going."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane.conftest import eventually
from tests.controlplane.workloads.conftest import ClockEnv, WorkloadProvider, clock_env

pytestmark = pytest.mark.needs_kubectl

MANIFEST = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: main, image: example/agent:1}]
"""


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[ClockEnv]:
    async with clock_env(tmp_path, kubectl) as e:
        yield e


async def placed(env: ClockEnv) -> dict[str, str]:
    """node name -> pod phase of the live daemon pods."""
    pods = await env.pods("app=agent")
    return {
        p["spec"]["nodeName"]: p.get("status", {}).get("phase", "")
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    }


async def status_of(env: ClockEnv) -> dict[str, Any]:
    ds: dict[str, Any] = await env.json("get", "ds", "agent")
    return ds


async def test_one_pod_per_eligible_node(env: ClockEnv) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for name in ("n1", "n2", "n3"):
            await stack.enter_async_context(env.cluster.node(WorkloadProvider(), name))
        await env.k.out("taint", "nodes", "n3", "dedicated=gpu:NoSchedule")
        await env.create(MANIFEST)
        out = await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")
        assert 'daemon set "agent" successfully rolled out' in out
        assert await placed(env) == {"n1": "Running", "n2": "Running"}
        ds = await status_of(env)
        status = ds["status"]
        counts = [
            status[k]
            for k in (
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberReady",
                "numberAvailable",
                "updatedNumberScheduled",
            )
        ]
        assert counts == [2, 2, 2, 2, 2]
        assert status["numberMisscheduled"] == 0
        assert status["observedGeneration"] == ds["metadata"]["generation"]
        pod = (await env.pods("app=agent"))[0]
        (ref,) = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == (
            "DaemonSet",
            True,
            True,
        )
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert terms == [
            {
                "matchFields": [
                    {"key": "metadata.name", "operator": "In", "values": [pod["spec"]["nodeName"]]}
                ]
            }
        ]
        tolerated = {(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]}
        assert {
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        } <= tolerated
        header = (await env.k.out("get", "ds")).splitlines()[0].split()
        assert header[:6] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"]

        # The taint goes: n3 gets its pod.
        await env.k.out("taint", "nodes", "n3", "dedicated-")

        async def three() -> bool:
            return await placed(env) == {"n1": "Running", "n2": "Running", "n3": "Running"}

        await env.until(three)

        # A node joins, then leaves for good.
        async with env.cluster.node(WorkloadProvider(), "n4"):

            async def four() -> bool:
                return set(await placed(env)) == {"n1", "n2", "n3", "n4"}

            await env.until(four)
        (left,) = [p for p in await env.pods("app=agent") if p["spec"]["nodeName"] == "n4"]
        await env.k.out("delete", "node", "n4")
        gc = env.cp.pod_gc
        assert gc is not None

        async def quarantined() -> bool:
            return gc.loop.scheduled(("default", left["metadata"]["name"])) is not None

        await env.until(quarantined)
        env.clock.advance(41)  # pod GC's quarantine for pods of a vanished node

        async def back_to_three() -> bool:
            nodes = await placed(env)
            status = (await status_of(env))["status"]
            return set(nodes) == {"n1", "n2", "n3"} and status["desiredNumberScheduled"] == 3

        await env.until(back_to_three)


async def test_no_execute_taint_evicts_and_node_selector_limits(env: ClockEnv) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for name in ("n1", "n2"):
            await stack.enter_async_context(env.cluster.node(WorkloadProvider(), name))
        await env.k.out("label", "nodes", "n1", "role=edge")
        await env.k.out("label", "nodes", "n2", "role=edge")
        await env.create(
            MANIFEST.replace("    spec:\n", "    spec:\n      nodeSelector: {role: edge}\n")
        )
        await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")

        async def on_both() -> bool:  # rollout status reads the status; the pods follow
            return set(await placed(env)) == {"n1", "n2"}

        assert await eventually(on_both, timeout=30)
        await env.k.out("label", "nodes", "n2", "role=core", "--overwrite")

        async def only_n1() -> bool:
            return set(await placed(env)) == {"n1"}

        await env.until(only_n1)
        await env.k.out("taint", "nodes", "n1", "drain=now:NoExecute")

        async def none_left() -> bool:
            status = (await status_of(env))["status"]
            return not await placed(env) and status["desiredNumberScheduled"] == 0

        await env.until(none_left)


async def test_rolling_update_replaces_pods_one_node_at_a_time(env: ClockEnv) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for name in ("n1", "n2", "n3"):
            await stack.enter_async_context(env.cluster.node(WorkloadProvider(), name))
        await env.create(MANIFEST)
        await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")
        store = env.cp.store
        assert store is not None
        from kubelet_core._controlplane.resources import PODS

        worst = {"live": 3}

        def observe(event: object) -> None:
            live = [
                e.obj
                for e in store.entries(PODS, "default")
                if not e.obj["metadata"].get("deletionTimestamp")
                and e.obj.get("status", {}).get("phase") == "Running"
            ]
            worst["live"] = min(worst["live"], len(live))

        store.add_listener(observe)
        await env.k.out("set", "image", "ds/agent", "main=example/agent:2")
        await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")

        async def replaced() -> list[Any]:
            # rollout status reads the status; the last replacement pod may still be
            # being created when it returns.
            live = [
                p for p in await env.pods("app=agent") if not p["metadata"].get("deletionTimestamp")
            ]
            return live if len(live) == 3 else []

        pods = await eventually(replaced, timeout=30)
        assert {p["spec"]["containers"][0]["image"] for p in pods} == {"example/agent:2"}
        assert len(pods) == 3
        assert worst["live"] >= 2  # maxUnavailable 1
        ds = await status_of(env)
        assert ds["status"]["updatedNumberScheduled"] == 3
        assert ds["status"]["observedGeneration"] == ds["metadata"]["generation"] == 2


async def test_template_generation_counts_template_changes_only(env: ClockEnv) -> None:
    """kube-apiserver's DaemonSet strategy: ``deprecated.daemonset.template.generation``
    moves with the template, ``metadata.generation`` with any spec change, and the
    controller labels pods ``pod-template-generation`` from the annotation."""
    annotation = "deprecated.daemonset.template.generation"
    async with env.cluster.node(WorkloadProvider(), "n1"):
        await env.create(MANIFEST)
        await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")
        ds = await status_of(env)
        assert (ds["metadata"]["annotations"][annotation], ds["metadata"]["generation"]) == ("1", 1)
        (pod,) = await env.pods("app=agent")
        assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
        # Not the template: generation moves, the template generation does not.
        await env.k.out("patch", "ds", "agent", "-p", '{"spec":{"minReadySeconds":1}}')
        ds = await status_of(env)
        assert (ds["metadata"]["annotations"][annotation], ds["metadata"]["generation"]) == ("1", 2)
        # A client cannot set it: the stored count comes back.
        await env.k.out("annotate", "ds", "agent", f"{annotation}=9", "--overwrite")
        ds = await status_of(env)
        assert ds["metadata"]["annotations"][annotation] == "1"
        await env.k.out("set", "image", "ds/agent", "main=example/agent:2")
        ds = await status_of(env)
        assert (ds["metadata"]["annotations"][annotation], ds["metadata"]["generation"]) == ("2", 3)

        async def relabelled() -> bool:
            live = [
                p for p in await env.pods("app=agent") if not p["metadata"].get("deletionTimestamp")
            ]
            return [p["metadata"]["labels"].get("pod-template-generation") for p in live] == ["2"]

        await env.until(relabelled)
