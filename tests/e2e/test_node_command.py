"""`wasmlet controlplane` and `wasmlet node` as separate processes: joining a cluster.

This is the path of an operator with a real cluster: the node knows only a
kubeconfig.  The node's settings come from flags, a config file and the
environment together.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.e2e.conftest import REPO, Wasmlet, free_port, import_bundled_script, wasi_pod

Spawned = tuple[subprocess.Popen[str], list[str], threading.Condition]


def spawn(*args: str, env: dict[str, str] | None = None) -> Spawned:
    process = subprocess.Popen(
        [sys.executable, "-m", "kubelet_core._cli.main", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )  # fmt: skip
    lines: list[str] = []
    printed = threading.Condition()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with printed:
                lines.append(line)
                printed.notify_all()

    threading.Thread(target=pump, daemon=True).start()
    return process, lines, printed


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("did not stop within 30 s of SIGTERM") from None


def test_node_joins_a_control_plane_from_a_kubeconfig(tmp_path: Path, kubectl: str) -> None:
    cluster_dir, node_dir = tmp_path / "cluster", tmp_path / "node"
    controlplane, cp_out, cp_printed = spawn(
        "controlplane", "--data-dir", str(cluster_dir), "--api-port", str(free_port())
    )
    node = None
    try:
        cluster = Wasmlet(controlplane, cluster_dir, kubectl, cp_out, cp_printed)
        cluster.wait_for_output("control plane at")
        config = tmp_path / "node.yaml"
        config.write_text("max-pods: 42\nnode-labels: zone=lab\n")
        node, node_out, _ = spawn(
            "node", "--kubeconfig", str(cluster.kubeconfig), "--provider", "wasi",
            "--node-name", "joined-1", "--port", "0", "--data-dir", str(node_dir),
            "--config", str(config), "--log-format", "json",
            env={"WASMLET_MAX_PODS": "7"},
        )  # fmt: skip
        cluster.kubectl("wait", "--for=create", "node/joined-1", "--timeout=60s", timeout=70)
        cluster.kubectl("wait", "--for=condition=Ready", "node/joined-1", "--timeout=60s")
        described = cluster.kubectl_json("get", "node", "joined-1")
        assert described["status"]["capacity"]["pods"] == "7"  # env beats the file
        assert described["metadata"]["labels"]["zone"] == "lab"
        # The bundled modules are only imported by `wasmlet up`: import one as a user would.
        import_bundled_script(node_dir)
        cluster.apply(wasi_pod("joined-pod", ["echo", "joined"], nodeName="joined-1"))
        cluster.wait_phase("joined-pod", "Succeeded")
        assert "joined" in cluster.kubectl("logs", "joined-pod")
        assert any('"event": "node agent started"' in line for line in node_out)
        assert stop(node) == 0
        node = None
        ready = cluster.kubectl(
            "get", "node", "joined-1",
            "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        )  # fmt: skip
        assert ready == "False"  # marked NotReady on the way out
    finally:
        if node is not None:
            stop(node)
        assert stop(controlplane) == 0


def test_a_bootstrap_token_joins_a_node_that_runs_a_runtime_class_pod(
    tmp_path: Path, kubectl: str
) -> None:
    """The operator's one command (issue: joining clusters): the join command the
    control plane prints, then a pod naming only ``runtimeClassName``."""
    cluster_dir, node_dir = tmp_path / "cluster", tmp_path / "node"
    controlplane, cp_out, cp_printed = spawn(
        "controlplane", "--data-dir", str(cluster_dir), "--api-port", str(free_port())
    )
    node = None
    try:
        cluster = Wasmlet(controlplane, cluster_dir, kubectl, cp_out, cp_printed)
        cluster.wait_for_output("control plane at")
        printed = subprocess.run(
            [sys.executable, "-m", "kubelet_core._cli.main", "controlplane", "token", "create",
             "--data-dir", str(cluster_dir), "--print-join-command"],
            capture_output=True, text=True, timeout=60, cwd=REPO, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        join = shlex.split(printed)
        assert join[:2] == ["wasmlet", "join"]
        cluster.kubectl("apply", "-f", str(REPO / "deploy" / "runtimeclasses.yaml"))
        node, _, _ = spawn(
            *join[1:], "--provider", "wasi", "--node-name", "joined-2", "--port", "0",
            "--data-dir", str(node_dir), "--log-format", "json",
        )  # fmt: skip
        cluster.kubectl("wait", "--for=create", "node/joined-2", "--timeout=60s", timeout=70)
        cluster.kubectl("wait", "--for=condition=Ready", "node/joined-2", "--timeout=60s")
        csrs = cluster.kubectl_json("get", "csr")["items"]
        client = [c for c in csrs if c["spec"]["signerName"].endswith("client-kubelet")]
        assert [c["spec"]["username"].startswith("system:bootstrap:") for c in client] == [True]
        kubeconfig = node_dir / "nodes" / "joined-2" / "kubelet.conf"
        assert "kubelet-client-current.pem" in kubeconfig.read_text()

        import_bundled_script(node_dir)
        pod = wasi_pod("rc-pod", ["echo", "by runtime class"])
        del pod["spec"]["nodeSelector"], pod["spec"]["tolerations"]
        pod["spec"]["runtimeClassName"] = "wasmlet-wasi"
        cluster.apply(pod)
        cluster.wait_phase("rc-pod", "Succeeded")
        assert cluster.kubectl_json("get", "pod", "rc-pod")["spec"]["nodeName"] == "joined-2"
        assert "by runtime class" in cluster.kubectl("logs", "rc-pod")
        assert stop(node) == 0
        node = None
    finally:
        if node is not None:
            stop(node)
        assert stop(controlplane) == 0
