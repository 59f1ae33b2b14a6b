"""``python -m benchmarks``: run the scenarios, print progress, write the reports.

Layout of a run: the driver (this process) creates and watches pods; the control
plane, each node agent and the floor client run as subprocesses (see
:mod:`benchmarks.processes`).  Scenarios run one after another, each with a fresh
agent, and their pods are force-deleted after.  A scenario that fails is recorded
as ``{"error": ...}`` and the others still run.

With ``--kubeconfig`` the run starts no control plane: it measures on an existing
cluster with that kubeconfig's credentials (they must be allowed to register nodes
and create pods), in ``--namespace``, with nodes named ``<--node-name>-<scenario>``
that it deletes again.  The floor client runs against the same cluster, so the
ratios still compare like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks import pods, report
from benchmarks.context import Bench, Parameters
from benchmarks.pods import RUN_LABEL, delete_all
from benchmarks.processes import ControlPlaneProcess, running
from benchmarks.scenarios import actors, density, deployment, fleet, idle, start, throughput
from kubelet_core._apiclient import ApiError, KubeApi

SCENARIOS = {
    "start": start.run,
    "throughput": throughput.run,
    "deployment": deployment.run,
    "density": density.run,
    "idle": idle.run,
    "actors": actors.run,
    "fleet": fleet.run,
}
#: Not run on an existing cluster unless asked for: a thousand fake nodes is not a
#: courtesy to a shared API server.
NOT_ON_EXISTING_CLUSTERS = ("fleet",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and short windows (a few minutes in all)"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=sorted(SCENARIOS),
        help="which to run (default: all; with --kubeconfig all but fleet)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        help="measure on this existing cluster instead of an embedded control plane",
    )
    parser.add_argument(
        "--namespace", default="default", help="namespace of the benchmark's pods (default)"
    )
    parser.add_argument(
        "--node-name",
        dest="node_prefix",
        help="prefix of the nodes the run registers, <prefix>-<scenario> (bench)",
    )
    parser.add_argument(
        "--deployment-replicas", type=int, help="replicas of the rolled-out Deployment (1000)"
    )
    parser.add_argument("--pods", type=int, help="pods created at once for start latency (100)")
    parser.add_argument("--single-repeats", type=int, help="single-pod starts measured (10)")
    parser.add_argument("--throughput-pods", type=int, help="pods for throughput (1000)")
    parser.add_argument("--density-pods", type=int, help="density target (2000)")
    parser.add_argument("--density-step", type=int, help="pods added per density step (250)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (60)")
    parser.add_argument("--idle-pods", type=int, help="pods on the loaded idle node (100)")
    parser.add_argument("--actor-seconds", type=float, help="echo actor load duration (10)")
    parser.add_argument("--actor-concurrency", type=int, help="echo actor connections (16)")
    parser.add_argument(
        "--agent-qps", type=float, help="agent --kube-api-qps (default: the agent's own, 50)"
    )
    parser.add_argument(
        "--agent-burst", type=int, help="agent --kube-api-burst (default: the agent's own, 100)"
    )
    parser.add_argument(
        "--throughput-fast-qps",
        type=float,
        dest="fast_qps",
        help="second throughput pass with the agent at this QPS (1000; 0: skip it)",
    )
    parser.add_argument("--timeout", type=float, help="seconds to wait for any one step (300)")
    parser.add_argument(
        "--fleet-sizes",
        type=int,
        nargs="+",
        help="simulated nodes in one process, one run per size (1 100 1000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the agent during start, throughput and the loaded idle window",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: results/)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.kubeconfig is not None:  # the agents and the floor run in other directories
        args.kubeconfig = args.kubeconfig.resolve()
    return args


def parameters(args: argparse.Namespace) -> Parameters:
    params = Parameters()
    if args.quick:
        params = Parameters(
            pods=20,
            single_repeats=3,
            throughput_pods=200,
            density_pods=200,
            density_step=100,
            idle_seconds=10,
            idle_pods=20,
            actor_seconds=2,
            timeout=120,
            fleet_sizes=(1, 10, 100),
            deployment_replicas=100,
        )
    for name in (
        "pods",
        "single_repeats",
        "throughput_pods",
        "density_pods",
        "density_step",
        "idle_seconds",
        "idle_pods",
        "actor_seconds",
        "actor_concurrency",
        "agent_qps",
        "agent_burst",
        "fast_qps",
        "timeout",
        "fleet_sizes",
        "deployment_replicas",
        "node_prefix",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(params, name, value)
    params.profile = args.profile
    return params


async def main(args: argparse.Namespace) -> dict[str, Any]:
    params = parameters(args)
    scenarios = args.scenarios or [
        name for name in SCENARIOS if not (args.kubeconfig and name in NOT_ON_EXISTING_CLUSTERS)
    ]
    pods.use_namespace(args.namespace)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    root = Path(tempfile.mkdtemp(prefix="wasmlet-bench-"))
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results: dict[str, Any] = {}
    durations: dict[str, float] = {}
    try:
        async with _cluster(args.kubeconfig, root) as (kubeconfig, controlplane):
            api = await KubeApi.from_kubeconfig(kubeconfig, qps=1e6, burst=1000000)
            driver_api = DriverRequests()
            api.add_observer(driver_api.observe)
            bench = Bench(
                root=root,
                out=out,
                params=params,
                kubeconfig=kubeconfig,
                api=api,
                controlplane=controlplane,
            )
            where = (
                f"control plane up at port {controlplane.port}"
                if controlplane
                else (f"existing cluster {api.base_url}, namespace {args.namespace}")
            )
            bench.say(f"{where}; work dir {root}")
            try:
                await _ensure_namespace(api, args.namespace)
                for name in scenarios:
                    bench.say(f"== {name}")
                    began = time.monotonic()
                    try:
                        results[name] = await SCENARIOS[name](bench)
                    except Exception as error:  # recorded; the other scenarios still run
                        traceback.print_exc()
                        results[name] = {"error": f"{type(error).__name__}: {error}"}
                    durations[name] = time.monotonic() - began
                    bench.say(f"== {name} done in {durations[name]:.1f}s")
                    await _remove_bench_pods(api)
                results["agent_stop_seconds"] = bench.agent_stop_seconds
                results["driver_requests"] = driver_api.figures()
            finally:
                await api.close()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    document = {
        "started": started,
        "machine": report.machine(),
        "versions": report.versions(),
        "parameters": {k: v for k, v in vars(params).items()},
        "cluster": "existing (--kubeconfig)" if args.kubeconfig else "embedded control plane",
        "layout": "driver, control plane, node agent and floor client in separate processes",
        "scenario_seconds": durations,
        "results": results,
    }
    json_path, md_path = report.write(document, out)
    print(md_path.read_text())
    print(
        f"wrote {json_path}, {md_path} and {len(document['plots'])} plot(s) in {out}",
        file=sys.stderr,
    )
    return document


@contextlib.asynccontextmanager
async def _cluster(
    kubeconfig: Path | None, root: Path
) -> AsyncIterator[tuple[Path, ControlPlaneProcess | None]]:
    """The cluster to measure: the one ``kubeconfig`` names, or an embedded control plane."""
    if kubeconfig is not None:
        yield kubeconfig, None
        return
    controlplane = ControlPlaneProcess(root / "controlplane")
    async with running(controlplane):
        yield controlplane.kubeconfig, controlplane


async def _ensure_namespace(api: KubeApi, namespace: str) -> None:
    """Create the run's namespace if the cluster has none of that name (it is kept after)."""
    try:
        await api.request("GET", f"/api/v1/namespaces/{namespace}")
    except ApiError as error:
        if error.status != 404:
            raise
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        await api.request("POST", "/api/v1/namespaces", body=body)


class DriverRequests:
    """The driver's own API requests: failures and slow answers reveal server stalls."""

    SLOW = 1.0

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.slow = 0
        self.slowest = 0.0

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        if verb == "WATCH":
            return
        self.requests += 1
        self.failed += code == 0 or code >= 500
        self.slow += seconds > self.SLOW
        self.slowest = max(self.slowest, seconds)

    def figures(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            f"slower_than_{self.SLOW:g}s": self.slow,
            "slowest_s": self.slowest,
        }


async def _remove_bench_pods(api: KubeApi) -> None:
    """Force-delete whatever pods the scenario left (its agent has stopped)."""
    with contextlib.suppress(Exception):
        listing = await api.request("GET", pods.pods_path(), params={"labelSelector": RUN_LABEL})
        await delete_all(
            api, [str(i["metadata"]["name"]) for i in listing.get("items", [])], grace=0
        )


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
