"""What every scenario shares: the control plane, an admin API client, agents, progress lines.

One :class:`Bench` per run.  Scenarios start their own agent (a fresh process with
its own node name, so one scenario's leftovers -- memory the interpreter keeps,
pods still terminating -- never colour the next) through :meth:`Bench.agent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.pods import force_delete_run
from benchmarks.processes import AgentProcess, Child, ControlPlaneProcess
from kubelet_core._apiclient import ApiError, KubeApi
from kubelet_core._modules import ModuleStore
from wasmlet_wasi.provider import WasiProvider

#: The hello component built in the repo, imported as this image.
COMPONENT = "examples.wasmlet.dev/hello-component:v1"
COMPONENT_FILE = Path(__file__).resolve().parents[1] / "testdata" / "components" / "hello.wasm"


@dataclass
class Parameters:
    pods: int = 100
    single_repeats: int = 10
    throughput_pods: int = 1000
    density_pods: int = 2000
    density_step: int = 250
    idle_seconds: float = 60.0
    idle_pods: int = 100
    actor_seconds: float = 10.0
    actor_concurrency: int = 16
    agent_qps: float | None = None
    agent_burst: int | None = None
    #: Also run throughput with the agent at this QPS (burst 2x): 0 turns it off.
    fast_qps: float = 1000.0
    timeout: float = 300.0
    profile: bool = False
    #: Simulated nodes in one process, one run per size (scenario fleet).
    fleet_sizes: tuple[int, ...] = (1, 100, 1000)
    #: Replicas of the Deployment rolled out on one node (scenario deployment).
    deployment_replicas: int = 1000
    #: Every node the run registers is named ``<node_prefix>-<scenario>`` (``--node-name``).
    node_prefix: str = "bench"


@dataclass
class Bench:
    root: Path
    out: Path
    params: Parameters
    #: The cluster's admin kubeconfig: the embedded control plane's, or ``--kubeconfig``.
    kubeconfig: Path
    api: KubeApi
    #: The embedded control plane this run started (None against an existing cluster).
    controlplane: ControlPlaneProcess | None = None
    started: float = field(default_factory=time.monotonic)
    _runs: itertools.count[int] = field(default_factory=itertools.count)
    _modules_ready: bool = False
    #: How long each agent took to exit after SIGTERM (pods still running).
    agent_stop_seconds: dict[str, float] = field(default_factory=dict)

    def say(self, message: str) -> None:
        """One progress line: elapsed time and what is happening."""
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    def run_label(self, name: str) -> str:
        return f"{name}-{next(self._runs)}"

    def node(self, scenario: str) -> str:
        """The name of the node a scenario registers (``--node-name`` prefixes them all)."""
        return f"{self.params.node_prefix}-{scenario}"

    @property
    def node_data(self) -> Path:
        return self.root / "node"

    async def _import_modules(self) -> None:
        if self._modules_ready:
            return
        store = ModuleStore(self.node_data / "modules")
        try:
            for reference, path in WasiProvider().bundled_modules().items():
                await store.import_file(path, reference)
            # A WASI 0.2 component (testdata/components), for its start latency.
            await store.import_file(COMPONENT_FILE, COMPONENT)
        finally:
            await store.aclose()
        self._modules_ready = True

    @contextlib.asynccontextmanager
    async def agent(
        self,
        node_name: str,
        *,
        provider: str = "wasi",
        max_pods: int = 110,
        env: dict[str, str] | None = None,
        qps: float | None = None,
    ) -> AsyncIterator[AgentProcess]:
        """A node agent subprocess, Ready; stopped (and its pods force-deleted) after."""
        await self._import_modules()
        agent = AgentProcess(
            self.kubeconfig,
            self.node_data,
            node_name,
            provider=provider,
            max_pods=max_pods,
            qps=qps or self.params.agent_qps,
            burst=int(2 * qps) if qps else self.params.agent_burst,
            env=env,
        )
        await agent.start()
        try:
            await agent.wait_ready(self.api, timeout=max(60.0, self.params.timeout))
            yield agent
        finally:
            # Stopping stops every pod first (--no-keep-pods-on-exit): give a big node the
            # time it needs, or a SIGKILL leaves its module hosts running after the run.
            grace = max(20.0, max_pods / 20)
            self.agent_stop_seconds[node_name] = await agent.stop(grace)
            await self.forget_node(node_name)

    async def forget_node(self, name: str) -> None:
        """Delete a node the run registered: a stopped agent leaves it NotReady behind."""
        with contextlib.suppress(ApiError):
            await self.api.request("DELETE", f"/api/v1/nodes/{name}")

    async def cleanup(self, run: str) -> None:
        await force_delete_run(self.api, run)

    @contextlib.asynccontextmanager
    async def profiled(self, child: Child, name: str) -> AsyncIterator[None]:
        """With ``--profile``: py-spy records ``child`` for the block (a speedscope file)."""
        if not self.params.profile:
            yield
            return
        out = self.out / f"profile-{name}.speedscope.json"
        spy = Child(
            f"py-spy {name}",
            [
                "py-spy",
                "record",
                "--pid",
                str(child.pid),
                "--gil",  # only the thread holding the GIL: Python CPU, and cheap to sample
                "--rate",
                "250",
                "--format",
                "speedscope",
                "--output",
                str(out),
                "--nonblocking",
            ],
            self.out / f"profile-{name}.log",
        )
        await spy.start()
        try:
            yield
        finally:
            assert spy.process is not None
            spy.process.send_signal(signal.SIGINT)  # py-spy writes its file and exits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(spy.process.wait(), 60)
            await spy.stop()
            self.say(f"profile written to {out}")


Figures = dict[str, Any]
