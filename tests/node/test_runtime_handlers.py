"""The node refuses a pod whose RuntimeClass handler it does not serve, as kubelet does."""

from __future__ import annotations

from kubelet_core._controlplane.runtimeclass import admit_pod, runtime_classes_for
from kubelet_core._pods.admission import PodAdmission
from kubelet_core._provider.base import KubeObject, NodeProfile

WASI = NodeProfile.for_wasm_arch("wasm32-wasi", runtime_handlers=("wasmlet-wasi",))
WASCC = NodeProfile.for_wasm_arch("wasm32-wasi", runtime_handlers=("wasmlet-wascc",))
CLASSES = {c["metadata"]["name"]: c for p in (WASI, WASCC) for c in runtime_classes_for(p)}


def admitted(name: str, runtime_class: str | None) -> KubeObject:
    """A pod as the API server stores it: its RuntimeClass applied by admission."""
    spec: KubeObject = {"containers": [{"name": "main", "image": "example/app:1"}]}
    if runtime_class is not None:
        spec["runtimeClassName"] = runtime_class
    pod: KubeObject = {"metadata": {"name": name, "uid": f"uid-{name}"}, "spec": spec}
    admit_pod(pod, CLASSES.get)
    return pod


def test_the_node_advertises_its_handlers() -> None:
    assert WASI.labels["runtime-handler.wasmlet.dev/wasmlet-wasi"] == "true"
    assert WASI.runtime_handlers == ("wasmlet-wasi",)


def test_a_handler_the_node_does_not_serve_is_refused_with_kubelets_reason() -> None:
    admission = PodAdmission(lambda: {"pods": "10"}, runtime_handlers=WASI.runtime_handlers)
    assert admission.admit(admitted("plain", None)) is None
    assert admission.admit(admitted("ours", "wasmlet-wasi")) is None
    refused = admission.admit(admitted("theirs", "wasmlet-wascc"))
    assert refused is not None
    assert refused.reason == "FailedCreatePodSandBox"
    assert refused.message == (
        'Failed to create pod sandbox: RuntimeHandler "wasmlet-wascc" not supported '
        "(RuntimeClass wasmlet-wascc; this node serves wasmlet-wasi)"
    )
    assert refused.status_message.startswith("Pod was rejected: Failed to create pod sandbox")
    assert "uid-theirs" not in admission  # a refused pod holds nothing
    # A resolver that looks the class up (through the API) is used when given.
    looked_up = PodAdmission(
        lambda: {"pods": "10"}, runtime_handlers=("wasmlet-wasi",), handler_of=lambda _: "runc"
    )
    refused = looked_up.admit(admitted("odd", "wasmlet-wasi"))
    assert refused is not None and 'RuntimeHandler "runc" not supported' in refused.message
