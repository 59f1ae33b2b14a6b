"""A real kubectl against ``wasmlet up``: what a newcomer does on day one."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.e2e.conftest import REPO, Wasmlet, wasi_pod


def test_get_nodes_wide_shows_ready_wasm_nodes(wasmlet: Wasmlet) -> None:
    wasmlet.kubectl("wait", "--for=condition=Ready", "node/wasmlet-wasi", "--timeout=30s")
    out = wasmlet.kubectl("get", "nodes", "-o", "wide")
    assert "wasmlet-wasi" in out and "wasmlet-wascc" in out
    line = next(line for line in out.splitlines() if line.startswith("wasmlet-wasi"))
    assert " Ready " in line and "127.0.0.1" in line
    node = wasmlet.kubectl_json("get", "node", "wasmlet-wasi")
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "wasm32-wasi"
    assert node["metadata"]["labels"]["type"] == "wasmlet"
    effects = {(t["key"], t["effect"]) for t in node["spec"]["taints"]}
    assert effects == {("kubernetes.io/arch", "NoSchedule"), ("kubernetes.io/arch", "NoExecute")}
    lease = wasmlet.kubectl_json("get", "lease", "-n", "kube-node-lease", "wasmlet-wasi")
    assert lease["spec"]["holderIdentity"] == "wasmlet-wasi"
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"


def test_apply_example_runs_to_completion(wasmlet: Wasmlet) -> None:
    wasmlet.kubectl("apply", "-f", str(REPO / "examples" / "hello-wasi.yaml"))
    wasmlet.wait_phase("hello-wasi", "Succeeded")
    pod = wasmlet.kubectl_json("get", "pod", "hello-wasi")
    assert pod["spec"]["nodeName"] == "wasmlet-wasi"
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0 and state["reason"] == "Completed"
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["PodScheduled"] == "True" and conditions["Initialized"] == "True"
    assert pod["status"]["hostIP"] == "127.0.0.1" and pod["status"]["podIP"] == "127.0.0.1"
    wide = wasmlet.kubectl("get", "pods", "-o", "wide")
    assert "hello-wasi" in wide and "Completed" in wide and "wasmlet-wasi" in wide
    # Applying again with a changed label patches the live pod (strategic merge).
    # A real API server answers "configured" even for the same file: its
    # DefaultTolerationSeconds admission adds tolerations the file does not have.
    changed = (
        (REPO / "examples" / "hello-wasi.yaml")
        .read_text()
        .replace("app: hello-wasi", "app: hello-wasi\n    stage: applied-again")
    )
    env_file = wasmlet.data_dir / "hello-changed.yaml"
    env_file.write_text(changed)
    assert "configured" in wasmlet.kubectl("apply", "-f", str(env_file))
    labels = wasmlet.kubectl_json("get", "pod", "hello-wasi")["metadata"]["labels"]
    assert labels == {"app": "hello-wasi", "stage": "applied-again"}


def test_exit_code_is_reported(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("exit-three", ["echo", "bye", "exit", "3"]))
    wasmlet.wait_phase("exit-three", "Failed")
    pod = wasmlet.kubectl_json("get", "pod", "exit-three")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"


def test_label_annotate_and_select(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("labelled", ["sleep", "60000"]))
    wasmlet.kubectl("label", "pod", "labelled", "tier=demo")
    wasmlet.kubectl("annotate", "pod", "labelled", "note=hello world")
    selected = wasmlet.kubectl("get", "pods", "-l", "tier=demo", "-o", "name")
    assert selected.split() == ["pod/labelled"]
    assert wasmlet.kubectl("get", "pods", "-l", "tier!=demo", "-o", "name").count("labelled") == 0
    pod = wasmlet.kubectl_json("get", "pod", "labelled")
    assert pod["metadata"]["annotations"]["note"] == "hello world"
    wasmlet.kubectl("label", "pod", "labelled", "tier-")
    assert "tier" not in wasmlet.kubectl_json("get", "pod", "labelled")["metadata"].get(
        "labels", {}
    )
    wasmlet.kubectl("delete", "pod", "labelled", "--grace-period=1")


def test_describe_shows_lifecycle_events(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("described", ["echo", "hi"]))
    wasmlet.wait_phase("described", "Succeeded")
    # events are written asynchronously (rate-limited recorder); wait for the last one
    deadline = time.monotonic() + 30
    while True:
        out = wasmlet.kubectl("describe", "pod", "described")
        if "Started" in out or time.monotonic() > deadline:
            break
        wasmlet.kubectl(
            "wait",
            "--for=create",
            "--timeout=5s",
            "event",
            "--field-selector",
            "involvedObject.name=described,reason=Started",
            check=False,
        )
    for reason in ("Scheduled", "Created", "Started"):
        assert reason in out, out
    assert "Status:" in out and "Succeeded" in out


def test_delete_running_pod_within_grace_period(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("spinner", ["spin", "600000"], terminationGracePeriodSeconds=5))
    wasmlet.wait_phase("spinner", "Running")
    started = time.monotonic()
    wasmlet.kubectl("delete", "pod", "spinner", "--timeout=30s")
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"deleting a spinning module took {elapsed:.1f}s"
    out = wasmlet.kubectl("get", "pod", "spinner", check=False)
    assert "NotFound" in out


def test_force_delete(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("forced", ["sleep", "600000"]))
    wasmlet.wait_phase("forced", "Running")
    out = wasmlet.kubectl("delete", "pod", "forced", "--force", "--grace-period=0")
    assert "force deleted" in out or "deleted" in out
    assert "NotFound" in wasmlet.kubectl("get", "pod", "forced", check=False)


def test_restart_policy_always_restarts_with_backoff(wasmlet: Wasmlet) -> None:
    wasmlet.apply(wasi_pod("crasher", ["exit", "1"], restartPolicy="Always"))
    wasmlet.kubectl(
        "wait",
        "--for=jsonpath={.status.containerStatuses[0].restartCount}=1",
        "pod/crasher",
        "--timeout=60s",
        timeout=70,
    )
    pod = wasmlet.kubectl_json("get", "pod", "crasher")
    status = pod["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    wasmlet.kubectl("delete", "pod", "crasher", "--grace-period=0", "--force")


def test_quickstart_command_exits_cleanly(tmp_path: Path, kubectl: str) -> None:
    """`wasmlet up --apply FILE --exit-when-done`: the demo, non-interactive."""
    import subprocess
    import sys

    from tests.e2e.conftest import free_port

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubelet_core._cli.main",
            "up",
            "--data-dir",
            str(tmp_path),
            "--api-port",
            str(free_port()),
            "--apply",
            str(REPO / "examples" / "hello-wasi.yaml"),
            "--exit-when-done",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pod/hello-wasi: Succeeded" in result.stdout
    assert json.loads((tmp_path / "kubeconfig").read_text().replace("'", '"')) if False else True


def test_demo_mode_shows_the_pod_logs_and_keeps_serving(tmp_path: Path, kubectl: str) -> None:
    """What `scripts/dev demo` runs: `wasmlet up --apply` prints the output, then serves."""
    from tests.e2e.conftest import start_wasmlet, stop_wasmlet

    up = start_wasmlet(tmp_path, kubectl, "--apply", str(REPO / "examples" / "hello-wasi.yaml"))
    try:
        up.wait_for_output("| argv[1]=Kubernetes")
        assert "pod/hello-wasi: Succeeded" in "".join(up.output)
        assert up.process.poll() is None  # still serving for kubectl
        assert "hello-wasi" in up.kubectl("get", "pods")
    finally:
        assert stop_wasmlet(up) == 0
