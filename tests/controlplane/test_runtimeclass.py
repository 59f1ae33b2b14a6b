"""RuntimeClass (node.k8s.io/v1) and its admission plugin, as kube-apiserver has them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.runtimeclass import ensure_runtime_classes, runtime_classes_for
from kubelet_core._provider.base import NodeProfile
from tests.controlplane.conftest import Client, add_node, eventually, pod

REPO = Path(__file__).resolve().parents[2]
PODS = "/api/v1/namespaces/default/pods"
CLASSES = "/apis/node.k8s.io/v1/runtimeclasses"
WASI = NodeProfile.for_wasm_arch("wasm32-wasi", runtime_handlers=("wasmlet-wasi",))
TOLERATIONS = [
    {"key": "kubernetes.io/arch", "operator": "Equal", "value": "wasm32-wasi", "effect": e}
    for e in ("NoSchedule", "NoExecute")
]


@pytest.fixture
async def sched(tmp_path: Path) -> AsyncIterator[Client]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=True) as cp,
        aiohttp.ClientSession() as session,
    ):
        assert cp.registry is not None
        await ensure_runtime_classes(cp.registry, runtime_classes_for(WASI))
        yield Client(cp, session)


async def test_runtime_classes_are_served_and_validated(sched: Client) -> None:
    listed = await sched.ok("GET", CLASSES)
    assert listed["kind"] == "RuntimeClassList"
    (wasi,) = listed["items"]
    assert wasi["handler"] == "wasmlet-wasi" and wasi["metadata"]["name"] == "wasmlet-wasi"
    assert wasi["scheduling"] == {
        "nodeSelector": {"runtime-handler.wasmlet.dev/wasmlet-wasi": "true"},
        "tolerations": TOLERATIONS,
    }
    status, group = await sched.get("/apis/node.k8s.io/v1")
    assert status == 200
    assert "runtimeclasses" in {r["name"] for r in group["resources"]}
    # The handler is a DNS label, required, and immutable.
    for handler in ("Not_A_Label", ""):
        body = {"metadata": {"name": "bad"}, "handler": handler}
        status, error = await sched.post(CLASSES, body)
        assert status == 422 and error["details"]["causes"][0]["field"] == "handler", error
    wasi["handler"] = "other"
    status, error = await sched.put(f"{CLASSES}/wasmlet-wasi", wasi)
    assert status == 422 and "field is immutable" in error["message"]
    # ensure_runtime_classes leaves an existing class alone (wasmlet up runs it at each start).
    assert sched.cp.registry is not None
    await ensure_runtime_classes(sched.cp.registry, runtime_classes_for(WASI))
    assert len((await sched.ok("GET", CLASSES))["items"]) == 1


async def test_a_pod_with_only_runtime_class_name_lands_on_the_right_node(sched: Client) -> None:
    taints = [{"key": "kubernetes.io/arch", "value": "wasm32-wasi", "effect": "NoSchedule"}]
    await add_node(sched, "plain")
    await add_node(sched, "wascc", labels={"runtime-handler.wasmlet.dev/wasmlet-wascc": "true"})
    await add_node(sched, "wasi", labels=dict(WASI.labels), taints=taints)
    created = await sched.ok("POST", PODS, pod("p", runtimeClassName="wasmlet-wasi"))
    # Admission merged the class's scheduling into the pod.
    assert created["spec"]["nodeSelector"] == {"runtime-handler.wasmlet.dev/wasmlet-wasi": "true"}
    for toleration in TOLERATIONS:
        assert toleration in created["spec"]["tolerations"]

    async def bound() -> str | None:
        return (await sched.ok("GET", f"{PODS}/p"))["spec"].get("nodeName")

    assert await eventually(bound) == "wasi"


async def test_an_unknown_class_is_rejected_at_admission(sched: Client) -> None:
    status, error = await sched.post(PODS, pod("lost", runtimeClassName="nope"))
    assert status == 403 and error["reason"] == "Forbidden"
    assert (
        error["message"] == 'pods "lost" is forbidden: pod rejected: RuntimeClass "nope" not found'
    )


async def test_scheduling_conflicts_and_overhead(sched: Client) -> None:
    selector = {"runtime-handler.wasmlet.dev/wasmlet-wasi": "false"}
    status, error = await sched.post(
        PODS, pod("clash", runtimeClassName="wasmlet-wasi", nodeSelector=selector)
    )
    assert status == 403
    assert error["message"] == (
        'pods "clash" is forbidden: conflict: runtimeClass.scheduling.nodeSelector'
        "[runtime-handler.wasmlet.dev/wasmlet-wasi] = true; "
        "pod.spec.nodeSelector[runtime-handler.wasmlet.dev/wasmlet-wasi] = false"
    )
    costly = {"metadata": {"name": "costly"}, "handler": "wasmlet-wasi"}
    costly["overhead"] = {"podFixed": {"memory": "16Mi", "cpu": "10m"}}
    await sched.ok("POST", CLASSES, costly)
    created = await sched.ok("POST", PODS, pod("with-overhead", runtimeClassName="costly"))
    assert created["spec"]["overhead"] == {"memory": "16Mi", "cpu": "10m"}
    status, error = await sched.post(
        PODS, pod("own-overhead", runtimeClassName="costly", overhead={"memory": "1Mi"})
    )
    assert (
        status == 403
        and "Pod's Overhead doesn't match RuntimeClass's defined Overhead" in (error["message"])
    )


def test_the_shipped_manifests_match_what_the_providers_advertise() -> None:
    from wasmlet_wascc.provider import WasccProvider
    from wasmlet_wasi.provider import WasiProvider

    shipped = list(yaml.safe_load_all((REPO / "deploy" / "runtimeclasses.yaml").read_text()))
    expected = [
        *runtime_classes_for(WasiProvider().node_profile()),
        *runtime_classes_for(WasccProvider().node_profile()),
    ]
    assert shipped == expected


@pytest.mark.needs_kubectl
async def test_kubectl_applies_the_shipped_manifests(
    control_plane: ControlPlane, kubectl: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(control_plane.kubeconfig_path),
        "apply",
        "-f",
        str(REPO / "deploy" / "runtimeclasses.yaml"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    assert out.decode().split("\n")[:2] == [
        "runtimeclass.node.k8s.io/wasmlet-wasi created",
        "runtimeclass.node.k8s.io/wasmlet-wascc created",
    ]
