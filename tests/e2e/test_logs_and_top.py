"""``kubectl logs`` and ``kubectl top`` through the whole stack, under ``wasmlet up``.

kubectl talks to the embedded control plane, which proxies ``pods/log`` to
the node's kubelet API (x509 client certificate, SubjectAccessReview back to
the control plane) and serves metrics.k8s.io from the nodes'
``/stats/summary``; the WASI provider writes the log files, rotated per the
node's ``container_log_max_*`` settings (set small here through the
environment, as a user would).  The last test restarts ``wasmlet up`` on
the same data directory and reads the logs of the pods it ran before.
"""

from __future__ import annotations

import datetime
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._containers.logs import decode_log, run_files
from tests.e2e.conftest import Wasmlet, start_wasmlet, stop_wasmlet, wasi_pod

MAX_SIZE = 256 << 10
MAX_FILES = 3
#: A minute of sleeping in short naps, so a stop lands at once (a WASI call is not interrupted).
NAPS = ["sleep", "100"] * 600
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


class Node:
    """The module's ``wasmlet up``, which the last test restarts."""

    def __init__(self, data_dir: Path, kubectl: str) -> None:
        self.data_dir = data_dir
        self.kubectl_binary = kubectl
        self.up = self._start()

    def _start(self) -> Wasmlet:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WASMLET_CONTAINER_LOG_MAX_SIZE", f"{MAX_SIZE >> 10}Ki")
            patch.setenv("WASMLET_CONTAINER_LOG_MAX_FILES", str(MAX_FILES))
            return start_wasmlet(self.data_dir, self.kubectl_binary)

    def restart(self) -> None:
        assert self.stop() == 0
        self.up = self._start()

    def stop(self) -> int:
        return stop_wasmlet(self.up)

    def pods_dir(self) -> Path:
        return self.data_dir / "nodes" / "wasmlet-wasi" / "pods"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, kubectl: str) -> Iterator[Node]:
    running = Node(tmp_path_factory.mktemp("wasmlet-logs"), kubectl)
    try:
        yield running
    finally:
        code = running.stop()
        assert code == 0, "wasmlet up exited with {}:\n{}".format(
            code,
            "".join(running.up.output[-50:]),
        )


def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """Retry ``check`` (a kubectl call) until it returns a truthy value; bounded."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


def logs(node: Node, pod: str, *flags: str, check: bool = True) -> str:
    return node.up.kubectl("logs", pod, *flags, check=check)


def container_status(node: Node, pod: str) -> dict[str, Any]:
    status = node.up.kubectl_json("get", "pod", pod)["status"]
    statuses = status.get("containerStatuses") or [{}]
    return dict(statuses[0])


@pytest.fixture(scope="module")
def lines_pod(node: Node) -> str:
    args = [a for n in range(1, 6) for a in ("echo", f"line-{n}")]
    node.up.apply(wasi_pod("lines", args))
    node.up.wait_phase("lines", "Succeeded")
    return "lines"


def test_logs_with_options(node: Node, lines_pod: str) -> None:
    everything = "".join(f"line-{n}\n" for n in range(1, 6))
    assert logs(node, lines_pod) == everything
    assert logs(node, lines_pod, "--tail=2") == "line-4\nline-5\n"
    assert logs(node, lines_pod, "--limit-bytes=9") == "line-1\nli"
    assert logs(node, lines_pod, "--since=1h") == everything
    assert logs(node, lines_pod, "--since-time=2099-01-01T00:00:00Z") == ""
    stamped = logs(node, lines_pod, "--timestamps", "--tail=3").encode().splitlines()
    assert [STAMP.sub(b"", line) for line in stamped] == [b"line-3", b"line-4", b"line-5"]
    assert all(STAMP.match(line) for line in stamped)
    moment = datetime.datetime.fromisoformat(stamped[0].split(b" ")[0].decode()[:26] + "+00:00")
    assert abs((datetime.datetime.now(datetime.UTC) - moment).total_seconds()) < 600


def test_timestamps_and_since_are_each_lines_own(node: Node) -> None:
    """A ticking module: ``--since=2s`` returns only the recent lines, each with its time."""
    args = [a for n in range(40) for a in ("echo", f"tick-{n:02d}", "sleep", "250")]
    node.up.apply(wasi_pod("ticker", args))
    eventually(lambda: "tick-11" in logs(node, "ticker", check=False), what="3 s of ticks")
    asked = time.time()
    recent = logs(node, "ticker", "--timestamps", "--since=2s").splitlines()
    whole = logs(node, "ticker").splitlines()
    stamps = [
        datetime.datetime.fromisoformat(line.split(" ")[0][:26] + "+00:00").timestamp()
        for line in recent
    ]
    ticks = [line.split(" ", 1)[1] for line in recent]
    assert 2 <= len(recent) <= 12 and len(recent) < len(whole), recent
    assert ticks == whole[whole.index(ticks[0]) :][: len(ticks)]  # consecutive ticks
    assert len(set(stamps)) == len(stamps) and stamps == sorted(stamps)  # one time per line
    assert all(stamp >= asked - 2.1 for stamp in stamps), (asked, stamps)
    node.up.kubectl("delete", "pod", "ticker", "--wait=true", "--timeout=60s")


def test_logs_follow_streams_lines_while_the_pod_runs(node: Node) -> None:
    node.up.apply(
        wasi_pod("follow", ["echo", "first", "sleep", "2500", "echo", "second", "exit", "0"])
    )
    node.up.kubectl("wait", "--for=condition=Ready", "pod/follow", "--timeout=60s")
    process = subprocess.Popen(
        [node.up.kubectl_binary, "logs", "-f", "--timestamps", "follow"],
        env={**os.environ, "KUBECONFIG": str(node.up.kubeconfig)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        first_at = time.time()
        phase = node.up.kubectl_json("get", "pod", "follow")["status"]["phase"]
        second = process.stdout.readline()
        second_at = time.time()
        assert process.wait(timeout=30) == 0  # follow ends when the container does
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert STAMP.sub(b"", first) == b"first\n" and STAMP.sub(b"", second) == b"second\n"
    # The first line arrived while the pod was still running, long before the second.
    assert phase == "Running"
    assert second_at - first_at > 1.5
    # The second line was stamped when the node read it; it reached us shortly after.
    written = datetime.datetime.fromisoformat(second.split(b" ")[0].decode()[:26] + "+00:00")
    latency = second_at - written.timestamp()
    print(f"follow latency through the control plane: {latency * 1000:.0f} ms")
    assert latency < 2.0


def test_previous_after_a_restart(node: Node) -> None:
    # Run 0 prints "x run" and fails; run 1 (restartCount 1) prints "xx run" and stays up.
    args = [
        "append", "/data/runs", "x",
        "read", "/data/runs",
        "echo", " run",
        "assert_content", "/data/runs", "xx",
        "echo", "steady",
        *NAPS,
    ]  # fmt: skip
    pod = wasi_pod(
        "again",
        args,
        restartPolicy="OnFailure",
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    node.up.apply(pod)
    eventually(
        lambda: (
            container_status(node, "again").get("restartCount") == 1
            and "running" in container_status(node, "again").get("state", {})
        ),
        timeout=60,
        what="the second run",
    )
    previous = logs(node, "again", "--previous")
    assert previous.startswith("x run\n") and "ERR: " in previous
    assert eventually(lambda: logs(node, "again") == "xx run\nsteady\n", what="run 1 output")
    node.up.kubectl("delete", "pod", "again", "--wait=true", "--timeout=60s")


def test_kubectl_top_pods_and_nodes(node: Node) -> None:
    node.up.apply(wasi_pod("busy", ["alloc", "16", "spin", "60000"]))
    node.up.kubectl("wait", "--for=condition=Ready", "pod/busy", "--timeout=60s")

    def top_busy() -> tuple[int, int] | None:
        out = node.up.kubectl("top", "pod", "busy", "--no-headers", check=False)
        match = re.match(r"busy\s+(\d+)m\s+(\d+)Mi", out)
        if match is None or int(match.group(1)) == 0:
            return None  # no metrics yet, or only one CPU sample so far
        return int(match.group(1)), int(match.group(2))

    cpu_millis, memory_mib = eventually(top_busy, what="kubectl top pod busy")
    assert cpu_millis >= 50  # a spinning module (the CI box is shared: generous)
    assert memory_mib >= 16  # 16 MiB allocated in linear memory
    nodes = eventually(
        lambda: "wasmlet-wasi" in (out := node.up.kubectl("top", "nodes", check=False)) and out,
        what="kubectl top nodes",
    )
    assert re.search(r"wasmlet-wasi\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", nodes), nodes
    node.up.kubectl("delete", "pod", "busy", "--wait=true", "--timeout=60s")


def test_a_log_flood_stays_within_the_rotation_budget(node: Node) -> None:
    kib = 8 << 10  # 8 MiB against a 768 KiB budget
    node.up.apply(wasi_pod("flood", ["flood", str(kib), "echo", "done"]))
    node.up.wait_phase("flood", "Succeeded")
    (pod_dir,) = node.pods_dir().glob("default_flood_*")
    files = run_files(pod_dir / "main" / "0.log")
    # Rotated many times (each 128-byte line is a 169-byte record): the newest two kept.
    rotations = int(files[-2].name.rsplit(".", 1)[1])
    assert [f.name for f in files] == [f"0.log.{rotations - 1}", f"0.log.{rotations}", "0.log"]
    assert rotations >= kib * 8 * 169 // MAX_SIZE - 1, rotations
    on_disk = sum(p.stat().st_size for p in (pod_dir / "main").iterdir())
    assert on_disk <= MAX_FILES * MAX_SIZE
    assert logs(node, "flood", "--tail=2") == f"flood {kib * 8:09d} {'x' * 111}\ndone\n"
    served = logs(node, "flood")
    assert served == decode_log(b"".join(f.read_bytes() for f in files)).decode()
    assert served.endswith("done\n")


def test_kubelet_api_refuses_callers_without_credentials(node: Node) -> None:
    status = node.up.kubectl_json("get", "node", "wasmlet-wasi")["status"]
    port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    address = next(a["address"] for a in status["addresses"] if a["type"] == "InternalIP")
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    for path in ("/containerLogs/default/lines/main", "/stats/summary", "/metrics/resource"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"https://{address}:{port}{path}", context=insecure, timeout=10)
        assert refused.value.code == 401
        token = urllib.request.Request(
            f"https://{address}:{port}{path}", headers={"Authorization": "Bearer not-a-token"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(token, context=insecure, timeout=10)
        assert refused.value.code == 401


def test_logs_survive_an_agent_restart(node: Node, lines_pod: str) -> None:
    node.up.apply(wasi_pod("keeps", ["echo", "before-restart", *NAPS], restartPolicy="Always"))
    node.up.kubectl("wait", "--for=condition=Ready", "pod/keeps", "--timeout=60s")
    eventually(lambda: logs(node, "keeps") == "before-restart\n", what="the first output")

    node.restart()  # SIGTERM, then `wasmlet up` again on the same data directory

    # The finished pod is not run again: its log is the one from before.
    assert logs(node, lines_pod, "--tail=1") == "line-5\n"
    # The running one is started again; the run from before is its previous log.
    eventually(
        lambda: (
            container_status(node, "keeps").get("restartCount") == 1
            and "running" in container_status(node, "keeps").get("state", {})
        ),
        timeout=60,
        what="keeps running again",
    )
    assert logs(node, "keeps", "--previous") == "before-restart\n"
    assert eventually(lambda: logs(node, "keeps") == "before-restart\n", what="run 1 output")
    # Deleting the pod removes its logs.
    node.up.kubectl("delete", "pod", "keeps", "--wait=true", "--timeout=60s")
    eventually(
        lambda: not list(node.pods_dir().glob("default_keeps_*")), what="keeps' log directory to go"
    )


def test_deleting_a_pod_finished_before_the_restart_removes_its_log(
    node: Node, lines_pod: str
) -> None:
    assert list(node.pods_dir().glob(f"default_{lines_pod}_*"))
    node.up.kubectl("delete", "pod", lines_pod, "--wait=true", "--timeout=60s")
    eventually(
        lambda: not list(node.pods_dir().glob(f"default_{lines_pod}_*")),
        timeout=10,
        what="the finished pod's log directory to go",
    )


def test_logs_of_pods_deleted_while_the_agent_was_away_go_at_its_next_start(node: Node) -> None:
    # `wasmlet up` stops its API server with the agent, so a pod cannot be deleted while
    # the agent is away here: a log directory of a pod the API does not have stands in.
    ghost = node.pods_dir() / "default_ghost_0b1c2d3e-0000-4000-8000-000000000000" / "main"
    ghost.mkdir(parents=True)
    (ghost / "0.log").write_text("from a pod deleted meanwhile\n")
    kept = list(node.pods_dir().glob("default_follow_*"))
    assert kept  # a finished pod the API still has
    node.restart()
    assert "wasmlet-wasi" in node.up.kubectl("get", "nodes")
    assert not ghost.parent.exists()
    assert list(node.pods_dir().glob("default_follow_*")) == kept
    assert logs(node, "follow") == "first\nsecond\n"
