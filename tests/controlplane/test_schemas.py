"""Every served type has kube's complete schema: kubectl explain names kube's types, wrong
types and unknown fields are refused as kube-apiserver refuses them, and manifests with
every field set round-trip unchanged through ``kubectl apply --validate=strict``.

``data/maximal_manifests.json`` was generated from k8s.io/api v0.36.3's generated.proto
(not from our tables): every field of PodSpec (one volume per volume source), JobSpec and
DeploymentSpec set once, values adjusted only where validation requires (unique container
names, selectors matching the template). A field missing from our tables fails it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client
from tests.controlplane.test_kubectl import Kubectl

pytestmark = pytest.mark.needs_kubectl

MAXIMAL = json.loads((Path(__file__).parent / "data" / "maximal_manifests.json").read_text())
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: example/app:1}]
"""


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[tuple[Kubectl, Client]]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Kubectl(kubectl, cp.kubeconfig_path, tmp_path), Client(cp, session)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (
            "deployment.spec.template.spec.containers.resources.limits",
            "limits <map[string]Quantity>",
        ),
        ("deployment.spec.strategy.rollingUpdate.maxSurge", "maxSurge <IntOrString>"),
        ("replicaset.spec.template.spec.containers", "containers <[]Container>"),
        ("daemonset.spec.updateStrategy", "updateStrategy <DaemonSetUpdateStrategy>"),
        ("job.spec.podFailurePolicy.rules", "rules <[]PodFailurePolicyRule>"),
        (
            "cronjob.spec.jobTemplate.spec.template.spec.volumes.projected",
            "projected <ProjectedVolumeSource>",
        ),
        ("role.rules", "rules <[]PolicyRule>"),
        ("clusterrolebinding.subjects", "subjects <[]Subject>"),
        ("pdb.spec.minAvailable", "minAvailable <IntOrString>"),
        ("limitrange.spec.limits.max", "max <map[string]Quantity>"),
        ("resourcequota.spec.scopeSelector", "scopeSelector <ScopeSelector>"),
        ("endpointslice.endpoints.conditions", "conditions <EndpointConditions>"),
        ("csr.spec.extra", "extra <map[string][]string>"),
        ("runtimeclass.scheduling.tolerations", "tolerations <[]Toleration>"),
        ("pod.spec.containers.securityContext.capabilities", "capabilities <Capabilities>"),
        ("pod.spec.securityContext.seccompProfile", "seccompProfile <SeccompProfile>"),
        ("pod.spec.containers.livenessProbe.httpGet.port", "port <IntOrString>"),
        ("pod.spec.affinity.podAntiAffinity", "podAntiAffinity <PodAntiAffinity>"),
        ("pod.spec.ephemeralContainers", "ephemeralContainers <[]EphemeralContainer>"),
        ("pod.spec.nodeSelector", "nodeSelector <map[string]string>"),
        ("service.spec.ports.targetPort", "targetPort <IntOrString>"),
        ("controllerrevision.revision", "revision <integer>"),
        ("events.v1.events.events.k8s.io.series", "series <EventSeries>"),
    ],
)
async def test_explain_names_kubes_types(
    env: tuple[Kubectl, Client], path: str, field: str
) -> None:
    k, _client = env
    if path.startswith("events.v1."):
        out = await k.out("explain", "events.series", "--api-version=events.k8s.io/v1")
    else:
        out = await k.out("explain", path)
    assert f"FIELD: {field}" in out, out


async def test_capabilities_fields_are_listed(env: tuple[Kubectl, Client]) -> None:
    k, _client = env
    out = await k.out("explain", "pod.spec.containers.securityContext.capabilities")
    assert "add\t<[]string>" in out and "drop\t<[]string>" in out


async def test_a_wrong_type_is_a_bad_request(env: tuple[Kubectl, Client]) -> None:
    k, _client = env
    (k.workdir / "bad.yaml").write_text(DEPLOYMENT.replace("REPLICAS", 'replicas: "three"'))
    rc, _out, err = await k.run("apply", "-f", str(k.workdir / "bad.yaml"), check=False)
    assert rc != 0
    assert "Error from server (BadRequest)" in err, err
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32"
    ) in err, err


async def test_an_unknown_field_is_refused_under_strict(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    (k.workdir / "typo.yaml").write_text(DEPLOYMENT.replace("REPLICAS", "replcas: 2"))
    rc, _out, err = await k.run("apply", "-f", str(k.workdir / "typo.yaml"), check=False)
    assert rc != 0
    assert 'strict decoding error: unknown field "spec.replcas"' in err, err
    # Without strict validation the field is dropped, with kube's warning.
    status, body = await client.post(
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "loose"},
            "spec": {
                "replcas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main", "image": "example/app:1"}]},
                },
            },
        },
    )
    assert status == 201, body
    assert "replcas" not in body["spec"]


def _differences(sent: Any, got: Any, path: str = "") -> list[str]:
    if isinstance(sent, dict) and isinstance(got, dict):
        out = []
        for key in sent.keys() | got.keys():
            where = f"{path}.{key}"
            if key not in got:
                out.append(f"missing {where}")
            elif key not in sent:
                out.append(f"added {where}")
            else:
                out += _differences(sent[key], got[key], where)
        return out
    if isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
        return [
            d
            for i, (a, b) in enumerate(zip(sent, got, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if sent == got else [f"changed {path}: {sent!r} -> {got!r}"]


@pytest.mark.parametrize("kind", ["pod", "deployment", "job"])
async def test_a_manifest_with_every_field_round_trips(
    env: tuple[Kubectl, Client], kind: str
) -> None:
    k, _client = env
    # The pod names a RuntimeClass whose overhead matches the pod's (RuntimeClass admission).
    await k.apply(
        "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: maximal}\n"
        "handler: wasm\noverhead: {podFixed: {k: '1'}}\n"
    )
    manifest = MAXIMAL[kind]
    path = k.workdir / f"{kind}.json"
    path.write_text(json.dumps(manifest))
    rc, _out, err = await k.run("apply", "--validate=strict", "-f", str(path), check=False)
    assert rc == 0, err
    assert "Warning" not in err, err
    got = json.loads(await k.out("get", kind, "maximal", "-o", "json"))
    spec = got["spec"]
    if kind == "pod":  # DefaultTolerationSeconds admission adds these two, as on kube
        spec["tolerations"] = [
            t
            for t in spec["tolerations"]
            if t["key"] not in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        ]
    assert _differences(manifest["spec"], spec) == []
    assert got["metadata"]["labels"] == manifest["metadata"]["labels"]
