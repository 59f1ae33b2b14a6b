"""A typical wasm app's manifests (examples/typical-app.yaml) on `wasmlet up`, unchanged.

Expectations from Kubernetes' documented behaviour: the Deployment rolls out
through a ReplicaSet on the wasm node its RuntimeClass selects; the LimitRange's
defaults land in the pods; the ServiceAccount may read its ConfigMap and nothing
else; the PodDisruptionBudget allows one disruption of two pods.
"""

from __future__ import annotations

from tests.e2e.conftest import REPO, Wasmlet


def test_a_typical_app_applies_and_behaves(wasmlet: Wasmlet) -> None:
    out = wasmlet.kubectl("apply", "-f", str(REPO / "examples" / "typical-app.yaml"))
    assert "deployment.apps/greeter created" in out and "limitrange/wasm-defaults created" in out
    wasmlet.kubectl("rollout", "status", "deployment/greeter", "--timeout=90s", timeout=100)

    pods = wasmlet.kubectl_json("get", "pods", "-l", "app=greeter")["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"] == "wasmlet-wasi"  # the RuntimeClass placed it
        owner = pod["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "ReplicaSet" and owner["name"].startswith("greeter-")
        resources = pod["spec"]["containers"][0]["resources"]
        assert resources == {"limits": {"memory": "64Mi"}, "requests": {"memory": "16Mi"}}
        log = wasmlet.kubectl("logs", pod["metadata"]["name"])
        assert "GREETING=hello from a wasm Deployment" in log and "TOKEN=s3cret" in log

    who = "system:serviceaccount:default:greeter"
    can = wasmlet.kubectl("auth", "can-i", "get", "configmap/greeter-config", "--as", who)
    cannot = wasmlet.kubectl("auth", "can-i", "list", "secrets", "--as", who, check=False)
    assert can.strip() == "yes" and cannot.strip() == "no"

    wasmlet.kubectl(
        "wait", "--for=jsonpath={.status.disruptionsAllowed}=1", "pdb/greeter", "--timeout=60s"
    )
    wasmlet.kubectl("delete", "-f", str(REPO / "examples" / "typical-app.yaml"), "--wait=false")
