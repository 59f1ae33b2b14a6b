"""Where a strategic merge patch puts list elements, as kube-apiserver does.

The cases are the documented examples: Kubernetes' task page "Update API Objects in
Place Using kubectl patch" (an added container lands before the existing one), the
strategic-merge-patch developer doc (``$setElementOrder`` on finalizers and on
containers) and the "Preserve Order in Strategic Merge Patch" design proposal (patch
order wins over live order, server-only elements keep their live place, directive
entries missing from the list are ignored).  Where the proposal's prose says
server-only elements all come first, apimachinery's normalizeElementOrder in fact
interleaves them by their live position; the expectations follow the code the API
server runs, and each says which it is.  The last test runs the task page's
example through kubectl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.patch import strategic_merge
from tests.controlplane.test_kubectl import Kubectl


def named(*names: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"name": n, **fields} for n in names]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


# (case, live containers, patch containers, $setElementOrder names or None, expected)
CONTAINER_CASES = [
    # Task page: patching in patch-demo-ctr-2 gives [patch-demo-ctr-2, patch-demo-ctr].
    ("added element goes first", ["ctr"], ["ctr-2"], None, ["ctr-2", "ctr"]),
    # Proposal, "$setElementOrder is not present": live B C A, patch A' B' D.
    ("patch order wins, server-only keeps its place", ["B", "C", "A"], ["A", "B", "D"], None,
     ["C", "A", "B", "D"]),
    # A patched element in place: the untouched one before it stays before it.
    ("changed element stays in place", ["a", "b"], ["b"], None, ["a", "b"]),
    ("server-only after the patched ones stays after", ["a", "b", "c"], ["b"], None,
     ["a", "b", "c"]),
    # Developer doc: $setElementOrder b c a reorders a b c.
    ("set order reorders", ["a", "b", "c"], None, ["b", "c", "a"], ["b", "c", "a"]),
    # Proposal: the directive may name elements the patch list leaves out.
    ("set order without a patch list", ["B", "A"], None, ["A", "B"], ["A", "B"]),
    # Proposal: names the live list lacks are ignored.
    ("set order names missing elements", ["A", "B"], ["A", "B"], ["C", "A", "B"], ["A", "B"]),
    # Proposal's live C B D A E with A, B patched: the prose says C D E A B; the code
    # interleaves by live position, E (after A there) follows B.
    ("server-only interleaved by live position", ["C", "B", "D", "A", "E"], ["A", "B"],
     ["A", "B"], ["C", "D", "A", "B", "E"]),
    # kubectl apply's usual patch: a new element with the full order.
    ("apply adds at its place", ["a", "b"], ["c"], ["a", "c", "b"], ["a", "c", "b"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("live", "patch_list", "order", "expected"),
    [case[1:] for case in CONTAINER_CASES],
    ids=[case[0] for case in CONTAINER_CASES],
)
def test_list_of_maps_order(
    live: list[str], patch_list: list[str] | None, order: list[str] | None, expected: list[str]
) -> None:
    original = {"containers": named(*live, image="old")}
    patch: dict[str, Any] = {}
    if patch_list is not None:
        patch["containers"] = named(*patch_list, image="new")
    if order is not None:
        patch["$setElementOrder/containers"] = [{"name": n} for n in order]
    result = strategic_merge(original, patch)
    assert names(result["containers"]) == expected
    for container in result["containers"]:
        changed = patch_list is not None and container["name"] in patch_list
        assert container["image"] == ("new" if changed else "old")


def test_design_proposal_env_example() -> None:
    """The proposal's env example: ENV3 deleted, ENV6 added, order ENV1 ENV2 ENV6, the
    server's own ENV5 and ENV4 kept.  The prose puts ENV5 ENV4 first; the code keeps
    ENV4 after ENV1 and ENV2, which it followed in the live list."""
    live = {
        "env": [
            {"name": "ENV2", "value": "bar"},
            {"name": "ENV5", "value": "server-added-2"},
            {"name": "ENV1", "value": "foo"},
            {"name": "ENV3", "value": "baz"},
            {"name": "ENV4", "value": "server-added-1"},
        ]
    }
    patch = {
        "$setElementOrder/env": [{"name": "ENV1"}, {"name": "ENV2"}, {"name": "ENV6"}],
        "env": [{"name": "ENV3", "$patch": "delete"}, {"name": "ENV6", "value": "new-env"}],
    }
    result = strategic_merge(live, patch)
    assert names(result["env"]) == ["ENV5", "ENV1", "ENV2", "ENV6", "ENV4"]
    assert result["env"][3] == {"name": "ENV6", "value": "new-env"}


# (case, live finalizers, patch, expected)
FINALIZER_CASES = [
    # Developer doc: $setElementOrder/finalizers b c a.
    ("set order", ["a", "b", "c"], {"$setElementOrder/finalizers": ["b", "c", "a"]},
     ["b", "c", "a"]),
    # Developer doc: $deleteFromPrimitiveList/finalizers b c leaves a.
    ("delete from primitive list", ["a", "b", "c"],
     {"$deleteFromPrimitiveList/finalizers": ["b", "c"]}, ["a"]),
    # A merging list of scalars orders an added value as a list of maps does.
    ("added value goes first", ["a", "b"], {"finalizers": ["c"]}, ["c", "a", "b"]),
    ("known value keeps its place", ["a", "b"], {"finalizers": ["b"]}, ["a", "b"]),
    # Proposal's finalizers example (live b e a c d; order a b f, c deleted, f added):
    # the prose gives e d a b f, the code interleaves to e a b f d.
    ("proposal example", ["b", "e", "a", "c", "d"],
     {"$setElementOrder/finalizers": ["a", "b", "f"],
      "$deleteFromPrimitiveList/finalizers": ["c"], "finalizers": ["f"]},
     ["e", "a", "b", "f", "d"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("live", "patch", "expected"),
    [case[1:] for case in FINALIZER_CASES],
    ids=[case[0] for case in FINALIZER_CASES],
)
def test_list_of_scalars_order(live: list[str], patch: dict[str, Any], expected: list[str]) -> None:
    assert strategic_merge({"finalizers": live}, patch)["finalizers"] == expected


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: patch-demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - {name: patch-demo-ctr, image: nginx}
"""


@pytest.mark.needs_kubectl
async def test_kubectl_patch_docs_example(tmp_path: Path, kubectl: str) -> None:
    async with ControlPlane(tmp_path / "cp", scheduler=False) as cp:
        k = Kubectl(kubectl, cp.kubeconfig_path, tmp_path)
        await k.apply(DEPLOYMENT)
        added = {"name": "patch-demo-ctr-2", "image": "redis"}
        patch = json.dumps({"spec": {"template": {"spec": {"containers": [added]}}}})
        await k.out("patch", "deployment", "patch-demo", "--patch", patch)
        deployment = json.loads(await k.out("get", "deployment", "patch-demo", "-o", "json"))
        containers = deployment["spec"]["template"]["spec"]["containers"]
        assert [(c["name"], c["image"]) for c in containers] == [
            ("patch-demo-ctr-2", "redis"),
            ("patch-demo-ctr", "nginx"),
        ]
