"""An agent killed with SIGKILL and started again: running pods are re-adopted, not re-run.

Audit finding 7: every running pod was started again (restartCount +1), and a
``restartPolicy: Never`` pod killed mid-run was run a second time from the
start.  Kubelet leaves containers to the runtime across its own restarts; so
does wasmlet now.  ``wasmlet controlplane`` and ``wasmlet node`` run as
separate processes here, as an operator runs them.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Wasmlet, free_port, import_bundled_script, wasi_pod
from tests.e2e.test_node_command import spawn, stop

NODE = "restart-1"


def host_pid(node_dir: Path, uid: str) -> int:
    record = node_dir / "nodes" / NODE / "wasi" / "runs" / uid / "main" / "0" / "host.json"
    return int(json.loads(record.read_text())["pid"])


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to end, on its pidfd (no polling); True if it is gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(pidfd)


def alive(pid: int) -> bool:
    return not wait_gone(pid, 0)


def logs_until(cluster: Wasmlet, pod: str, text: str, timeout: float = 60) -> list[str]:
    """``kubectl logs -f`` until a line holds ``text``; the lines read."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    process = subprocess.Popen(
        [cluster.kubectl_binary, "logs", "-f", pod, f"--request-timeout={int(timeout)}s"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if text in line:
                break
    finally:
        process.kill()
        process.wait()
    assert any(text in line for line in lines), lines
    return lines


def pod(cluster: Wasmlet, name: str) -> Any:
    return cluster.kubectl_json("get", "pod", name)


def test_sigkilled_agent_readopts_its_pods(tmp_path: Path, kubectl: str) -> None:
    cluster_dir, node_dir = tmp_path / "cluster", tmp_path / "node"
    controlplane, cp_out, cp_printed = spawn(
        "controlplane", "--data-dir", str(cluster_dir), "--api-port", str(free_port())
    )
    node_args = [
        "node", "--provider", "wasi", "--node-name", NODE, "--port", "0",
        "--data-dir", str(node_dir),
    ]  # fmt: skip
    node: subprocess.Popen[str] | None = None
    try:
        cluster = Wasmlet(controlplane, cluster_dir, kubectl, cp_out, cp_printed)
        cluster.wait_for_output("control plane at")
        node_args += ["--kubeconfig", str(cluster.kubeconfig)]
        import_bundled_script(node_dir)
        node, _, _ = spawn(*node_args)
        cluster.kubectl("wait", "--for=create", f"node/{NODE}", "--timeout=60s", timeout=70)
        keeper = wasi_pod(
            "keeper",
            ["echo", "before", "wait_for_content", "/data/go", "yes", "600000",
             "echo", "after", "sleep", "600000"],
            restartPolicy="Always", nodeName=NODE,
            volumes=[{"name": "data", "emptyDir": {}}],
            container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        )  # fmt: skip
        once = wasi_pod("once", ["echo", "once", "sleep", "600000"], nodeName=NODE)
        doomed = wasi_pod("doomed", ["sleep", "600000"], nodeName=NODE)
        forgotten = wasi_pod("forgotten", ["sleep", "600000"], nodeName=NODE)
        cluster.apply(keeper, once, doomed, forgotten)
        for name in ("keeper", "once", "doomed", "forgotten"):
            cluster.wait_phase(name, "Running")
        logs_until(cluster, "keeper", "before")
        uids = {
            name: pod(cluster, name)["metadata"]["uid"]
            for name in ("keeper", "once", "doomed", "forgotten")
        }
        pids = {name: host_pid(node_dir, uid) for name, uid in uids.items()}
        container_id = pod(cluster, "keeper")["status"]["containerStatuses"][0]["containerID"]

        node.kill()  # SIGKILL: no shutdown of any kind
        node.wait(timeout=30)
        node = None
        assert all(alive(pid) for pid in pids.values()), "hosts must outlive the agent"
        os.kill(pids["once"], signal.SIGKILL)  # dies while the agent is away
        assert wait_gone(pids["once"], 10)
        cluster.kubectl("delete", "pod", "doomed", "--wait=false")
        cluster.kubectl("delete", "pod", "forgotten", "--grace-period=0", "--force")

        node, _, _ = spawn(*node_args)
        # Killed while away under restartPolicy Never: Failed, never run a second time.
        cluster.wait_phase("once", "Failed")
        status = pod(cluster, "once")["status"]["containerStatuses"][0]
        assert status["restartCount"] == 0
        assert status["state"]["terminated"]["exitCode"] == 137
        assert status["state"]["terminated"]["reason"]
        assert cluster.kubectl("logs", "once").count("once") == 1
        # Deleted (gracefully, or forcibly) while away: their hosts are stopped.
        cluster.kubectl("wait", "--for=delete", "pod/doomed", "--timeout=60s", timeout=70)
        assert wait_gone(pids["doomed"], 30)
        assert wait_gone(pids["forgotten"], 30)
        # Still running: re-adopted, same container, no restart, and its logs keep flowing.
        assert alive(pids["keeper"])
        status = pod(cluster, "keeper")["status"]["containerStatuses"][0]
        assert status["restartCount"] == 0 and "running" in status["state"]
        assert status["containerID"] == container_id
        data = next((node_dir / "nodes" / NODE / "volumes").glob("default_keeper_*"))
        (data / "empty-dir" / "data" / "go").write_text("yes")
        lines = logs_until(cluster, "keeper", "after")
        assert [line.strip() for line in lines] == ["before", "after"]
        assert pod(cluster, "keeper")["status"]["containerStatuses"][0]["restartCount"] == 0

        cluster.kubectl("delete", "pod", "keeper", "once", "--grace-period=1")
        assert wait_gone(pids["keeper"], 30)
        assert stop(node) == 0
        node = None
    finally:
        if node is not None:
            stop(node)
        assert stop(controlplane) == 0
