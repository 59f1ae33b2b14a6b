"""kubectl's OpenAPI clients: explain (v3), client-side validation of ``kind: List`` (v2 as
protobuf), and the round trip of ``kubectl get -o yaml`` of several objects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client
from tests.controlplane.test_kubectl import Kubectl

pytestmark = pytest.mark.needs_kubectl

LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {mode: fast}
- apiVersion: v1
  kind: Pod
  metadata: {name: listed}
  spec:
    containers:
    - name: main
      image: example/app:1
      resources: {limits: {memory: 64Mi}}
"""


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[tuple[Kubectl, Client]]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Kubectl(kubectl, cp.kubeconfig_path, tmp_path), Client(cp, session)


async def test_explain_reads_the_served_schemas(env: tuple[Kubectl, Client]) -> None:
    k, _client = env
    out = await k.out("explain", "pod.spec.containers")
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out and "resources\t<ResourceRequirements>" in out
    out = await k.out("explain", "pods.spec.terminationGracePeriodSeconds")
    assert "<integer>" in out
    assert "holderIdentity\t<string>" in await k.out("explain", "lease.spec")


async def test_apply_of_a_list_and_of_get_yaml_output(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    out = await k.apply(LIST)
    assert "configmap/settings created" in out and "pod/listed created" in out
    await client.ok("GET", "/api/v1/namespaces/default/configmaps/settings")
    # Wrong types in List items are refused (by client-side validation against v2).
    bad = LIST.replace("image: example/app:1", "image: example/app:1\n      tty: maybe")
    (k.workdir / "bad.yaml").write_text(bad)
    rc, _out, err = await k.run("apply", "-f", str(k.workdir / "bad.yaml"), check=False)
    assert rc != 0 and "tty" in err, err
    assert "error validating data" in err
    # What `get -o yaml` prints for several objects is a List that applies back (as
    # "configured": the last-applied annotation now records the dump itself).
    dumped = await k.out("get", "configmap/settings", "pod/listed", "-o", "yaml")
    assert dumped.startswith("apiVersion: v1\nitems:") and "kind: List" in dumped
    out = await k.apply(dumped)
    assert "configmap/settings configured" in out and "pod/listed configured" in out
    as_json = json.loads(await k.out("get", "pod/listed", "-o", "json"))
    assert as_json["spec"]["containers"][0]["resources"]["limits"]["memory"] == "64Mi"


async def test_server_side_apply_is_refused_naming_client_side_apply(
    env: tuple[Kubectl, Client],
) -> None:
    k, _client = env
    (k.workdir / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: b}\n"
    )
    rc, _out, err = await k.run(
        "apply", "--server-side", "-f", str(k.workdir / "cm.yaml"), check=False
    )
    assert rc != 0 and "kubectl apply without --server-side" in err, err
    assert "configmap/ssa created" in await k.out("apply", "-f", str(k.workdir / "cm.yaml"))
