"""The benchmark suite at tiny sizes, so it cannot rot: every scenario runs end to end
(control plane, agents and floor client as real subprocesses) and the JSON report
holds every figure the README documents."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

from benchmarks.__main__ import main, parse_args
from benchmarks.processes import ControlPlaneProcess, running

from kubelet_core._apiclient import KubeApi

FIGURES: dict[str, tuple[str, ...]] = {
    "throughput": (
        "create_accept_per_s",
        "running_per_s",
        "running_per_s_best_1s",
        "seconds_to_all_running",
        "deleted_per_s",
        "seconds_to_all_deleted",
        "agent_api_requests_per_pod",
        "agent_cpu_seconds_to_running",
    ),
    "density": (
        "reached",
        "baseline_rss_mib",
        "rss_mib",
        "rss_per_pod_kib",
        "threads",
        "threads_per_pod",
        "fds",
        "fds_per_pod",
    ),
    "actors": ("requests", "requests_per_s", "p50_ms", "p99_ms", "errors"),
}
LATENCIES = ("count", "p50_ms", "p90_ms", "p99_ms", "max_ms")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


async def test_every_figure_is_reported(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--pods",
            "3",
            "--single-repeats",
            "2",
            "--throughput-pods",
            "10",
            "--density-pods",
            "10",
            "--density-step",
            "5",
            "--idle-seconds",
            "2",
            "--idle-pods",
            "3",
            "--actor-seconds",
            "0.5",
            "--actor-concurrency",
            "2",
            "--timeout",
            "120",  # a bound for a loaded machine, not a target
            "--fleet-sizes",
            "1",
            "3",
            "--deployment-replicas",
            "4",
            "--out",
            str(tmp_path / "results"),
        ]
    )
    await main(args)
    report = json.loads((tmp_path / "results" / "report.json").read_text())
    results = report["results"]
    assert not [name for name, figures in results.items() if "error" in figures]
    assert report["machine"]["cpus"] >= 1 and report["versions"]["kubelet-core"]

    start = results["start"]
    for scope, keys in (
        ("single", ("wasmlet_running", "floor_running")),
        ("batch", ("hello_running", "hello_succeeded", "wasmlet_running", "floor_running")),
    ):
        for key in keys:
            summary = start[scope][key]
            assert summary["count"] == (2 if scope == "single" else 3), (scope, key)
            assert all(_number(summary[f]) and summary[f] > 0 for f in LATENCIES)
        assert _number(start[scope]["ratio_p50"]) and _number(start[scope]["ratio_p99"])
    for name, figures in FIGURES.items():
        missing = [k for k in figures if not _number(results[name].get(k))]
        assert not missing, (name, missing)
    assert results["throughput"]["running"] == results["throughput"]["deleted"] == 10
    fast = results["throughput"]["fast_qps"]
    assert fast["agent_qps"] == 1000 and fast["running"] == fast["deleted"] == 10
    assert not [k for k in FIGURES["throughput"] if not _number(fast.get(k))]
    density = results["density"]
    assert density["reached"] == 10 and density["threads_per_pod"] >= 0
    assert density["hosts"] == 11  # one module host per pod (the warm-up pod too)
    assert 0 < density["host_unique_kib_per_pod"] < 16 * 1024
    # The node stayed healthy: its kubelet API answered and its Lease was renewed.
    assert density["kubelet_api_ms_max"] > 0 and density["lease_renewals_seen"] >= 1
    assert density["lease_longest_gap_s"] <= density["lease_duration_s"]
    assert results["actors"]["requests"] > 0 and results["actors"]["errors"] == 0
    for state in ("empty", "loaded"):
        idle = results["idle"][state]
        assert _number(idle["cpu_percent"]) and _number(idle["api_requests_per_min"])
        assert idle["api_requests_per_min"] >= 0 and idle["threads"] > 0
        assert _number(idle["thread_wakeups_per_s"]) and _number(idle["quiet_after_s"])

    rollout = results["deployment"]
    assert rollout["replicas"] == 4
    for side in ("wasmlet", "floor"):
        assert all(_number(v) and v > 0 for v in rollout[side].values()), rollout[side]
    assert _number(rollout["ratio_seconds_to_all_running"])
    assert "Deployment of 4 replicas" in (tmp_path / "results" / "report.md").read_text()

    sizes = results["fleet"]["sizes"]
    assert [s["nodes"] for s in sizes] == [1, 3]
    for size in sizes:
        assert all(_number(v) for k, v in size.items()), size
        assert size["api_requests_per_min"] >= 0 and size["rss_mib"] > 0
    assert "nodes in one process" in (tmp_path / "results" / "report.md").read_text()

    assert {row["verdict"] for row in report["targets"]} <= {"pass", "miss"}
    assert len(report["targets"]) == 12
    markdown = (tmp_path / "results" / "report.md").read_text()
    assert "| Target |" in markdown and "Overhead ratio" in markdown
    assert "Driver API requests" in markdown and "failed" not in markdown.split("Driver")[0]
    plots = report["plots"]
    if _has_matplotlib():
        assert set(plots) == {"start-latency-cdf.png", "pods-over-time.png", "density.png"}
        assert all((tmp_path / "results" / p).stat().st_size > 1000 for p in plots)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


async def test_a_run_on_an_existing_cluster(tmp_path: Path) -> None:
    """``--kubeconfig``: no control plane of its own; the run's namespace and node names."""
    cluster = ControlPlaneProcess(tmp_path / "cluster")  # a cluster the benchmark did not start
    async with running(cluster):
        args = parse_args(
            [
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--namespace",
                "bench-elsewhere",
                "--node-name",
                "mine",
                "--scenarios",
                "start",
                "deployment",
                "--pods",
                "2",
                "--single-repeats",
                "1",
                "--deployment-replicas",
                "3",
                "--timeout",
                "120",
                "--out",
                str(tmp_path / "results"),
            ]
        )
        seen_nodes: set[str] = set()
        api = await KubeApi.from_kubeconfig(cluster.kubeconfig)
        try:
            watcher = asyncio.ensure_future(_node_names(api, seen_nodes))
            try:
                document = await main(args)
            finally:
                watcher.cancel()
            left = await api.request("GET", "/api/v1/nodes")
            namespace = await api.request("GET", "/api/v1/namespaces/bench-elsewhere")
        finally:
            await api.close()
    results = document["results"]
    assert document["cluster"] == "existing (--kubeconfig)"
    assert not [name for name, figures in results.items() if "error" in figures], results
    assert set(results) >= {"start", "deployment"} and "throughput" not in results
    assert results["deployment"]["wasmlet"]["seconds_to_all_running"] > 0
    assert results["start"]["single"]["floor_running"]["count"] == 1
    assert {"mine-start", "mine-floor", "mine-deployment", "mine-deployment-floor"} <= seen_nodes
    assert not [n for n in left["items"] if n["metadata"]["name"].startswith("mine-")]
    assert namespace["metadata"]["name"] == "bench-elsewhere"


async def _node_names(api: KubeApi, seen: set[str]) -> None:
    """Every node name registered while the run goes on."""
    async for event in api.watch("/api/v1/nodes", params={"resourceVersion": "0"}):
        seen.add(str((event.get("object") or {}).get("metadata", {}).get("name")))
