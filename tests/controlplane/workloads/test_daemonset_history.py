"""DaemonSet history through kubectl: ControllerRevisions, ``rollout history`` and ``undo``.

Expectations from Kubernetes' "Perform a Rollback on a DaemonSet" task: each template
the DaemonSet had is a ControllerRevision (``kubectl get controllerrevision -l <selector>``
lists them with the DaemonSet as CONTROLLER), ``rollout history`` lists their revisions
and shows one's pod template, ``rollout undo`` restores one, and revisions only roll
forward: the revision rolled back to gets the next number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
    async with clock_env(tmp_path, kubectl) as e, e.cluster.node(WorkloadProvider(), "n1"):
        yield e


async def revisions(env: ClockEnv) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await env.json("get", "controllerrevisions", "-l", "app=agent"))[
        "items"
    ]
    return sorted(items, key=lambda r: int(r["revision"]))


def image_of(revision: dict[str, Any]) -> str:
    image: str = revision["data"]["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


async def roll_to(env: ClockEnv, image: str) -> list[dict[str, Any]]:
    """Wait for the rollout and for the one live pod to run ``image``; the pods."""
    await env.k.out("rollout", "status", "ds/agent", "--timeout=60s")

    async def replaced() -> list[dict[str, Any]]:
        live = [
            p for p in await env.pods("app=agent") if not p["metadata"].get("deletionTimestamp")
        ]
        images = {c["image"] for p in live for c in p["spec"]["containers"]}
        return live if len(live) == 1 and images == {image} else []

    pods: list[dict[str, Any]] = await env.until(replaced)
    return pods


async def test_revisions_history_and_undo(env: ClockEnv) -> None:
    await env.create(MANIFEST)
    (pod,) = await roll_to(env, "example/agent:1")
    ds = await env.json("get", "ds", "agent")
    (first,) = await revisions(env)
    digest = first["metadata"]["labels"]["controller-revision-hash"]
    assert first["metadata"]["name"] == f"agent-{digest}"
    assert first["metadata"]["labels"]["app"] == "agent"
    assert first["revision"] == 1
    (ref,) = first["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "DaemonSet",
        "agent",
        ds["metadata"]["uid"],
        True,
    )
    template = first["data"]["spec"]["template"]
    assert template["$patch"] == "replace"
    assert template["metadata"]["labels"] == {"app": "agent"}
    assert image_of(first) == "example/agent:1"
    assert pod["metadata"]["labels"]["controller-revision-hash"] == digest
    table = (await env.k.out("get", "controllerrevisions")).splitlines()
    assert table[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert table[1].split()[:3] == [f"agent-{digest}", "daemonset.apps/agent", "1"]

    await env.k.out("set", "image", "ds/agent", "main=example/agent:2")
    (pod,) = await roll_to(env, "example/agent:2")
    old, new = await revisions(env)
    assert (old["revision"], image_of(old)) == (1, "example/agent:1")
    assert (new["revision"], image_of(new)) == (2, "example/agent:2")
    new_hash = new["metadata"]["labels"]["controller-revision-hash"]
    assert new_hash != digest
    assert pod["metadata"]["labels"]["controller-revision-hash"] == new_hash
    ds = await env.json("get", "ds", "agent")
    assert ds["status"]["updatedNumberScheduled"] == 1
    assert ds["status"]["observedGeneration"] == ds["metadata"]["generation"]

    history = (await env.k.out("rollout", "history", "ds/agent")).splitlines()
    assert history[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert [line.split() for line in history[2:] if line.strip()] == [
        ["1", "<none>"],
        ["2", "<none>"],
    ]
    shown = await env.k.out("rollout", "history", "ds/agent", "--revision=1")
    assert "with revision #1" in shown
    assert "example/agent:1" in shown and "example/agent:2" not in shown

    assert "rolled back" in await env.k.out("rollout", "undo", "ds/agent")
    (pod,) = await roll_to(env, "example/agent:1")
    two, three = await revisions(env)
    # Roll forward only: the first template's revision is now number 3, same name.
    assert (two["revision"], image_of(two)) == (2, "example/agent:2")
    assert (three["revision"], three["metadata"]["name"]) == (3, f"agent-{digest}")
    assert pod["metadata"]["labels"]["controller-revision-hash"] == digest

    # kubectl compares the revision's data with the DaemonSet byte for byte.
    skipped = await env.k.out("rollout", "undo", "ds/agent", "--to-revision=3")
    assert "current template already matches revision 3" in skipped
    rc, _out, err = await env.k.run("rollout", "undo", "ds/agent", "--to-revision=9", check=False)
    assert rc != 0 and "unable to find specified revision 9 in history" in err

    assert "rolled back" in await env.k.out("rollout", "undo", "ds/agent", "--to-revision=2")
    await roll_to(env, "example/agent:2")
    assert [(r["revision"], image_of(r)) for r in await revisions(env)] == [
        (3, "example/agent:1"),
        (4, "example/agent:2"),
    ]


async def test_revision_history_limit_prunes_the_oldest(env: ClockEnv) -> None:
    await env.create(
        MANIFEST.replace("spec:\n  selector", "spec:\n  revisionHistoryLimit: 1\n  selector")
    )
    await roll_to(env, "example/agent:1")
    for image in ("example/agent:2", "example/agent:3"):
        await env.k.out("set", "image", "ds/agent", f"main={image}")
        await roll_to(env, image)

    async def pruned() -> list[tuple[int, str]]:
        kept = [(int(r["revision"]), image_of(r)) for r in await revisions(env)]
        return kept if len(kept) == 2 else []

    assert await env.until(pruned) == [(2, "example/agent:2"), (3, "example/agent:3")]


async def test_deleting_the_daemonset_removes_its_revisions(env: ClockEnv) -> None:
    await env.create(MANIFEST)
    await roll_to(env, "example/agent:1")
    assert len(await revisions(env)) == 1
    await env.k.out("delete", "ds", "agent", "--wait=true")

    async def gone() -> bool:
        return not await revisions(env)

    assert await env.until(gone)


async def test_a_revision_needs_data_and_keeps_it(env: ClockEnv) -> None:
    path = env.k.workdir / "revision.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: r}\nrevision: 1\n"
    )
    rc, _out, err = await env.k.run("create", "-f", str(path), check=False)
    assert rc != 0 and "data: Required value: data is mandatory" in err
    path.write_text(path.read_text() + "data: {spec: {template: {}}}\n")
    await env.k.out("create", "-f", str(path))
    patch = '{"data": {"spec": {"template": {"metadata": {}}}}}'
    rc, _out, err = await env.k.run(
        "patch", "controllerrevision", "r", "--type=merge", "-p", patch, check=False
    )
    assert rc != 0 and "data: Invalid value" in err and "field is immutable" in err
    rc, _out, err = await env.k.run(
        "patch", "controllerrevision", "r", "--type=merge", "-p", '{"revision": -1}', check=False
    )
    assert rc != 0 and "revision: Invalid value: -1: must be greater than or equal to 0" in err
