"""The control plane, node agents and the floor client as subprocesses of the driver.

Each runs with ``python -m ...`` so it has its own interpreter and GIL: the agent's
CPU and RSS figures are then its own, not shared with the control plane or with the
driver that creates and watches pods.  Processes are stopped by their own PID
(SIGTERM, then SIGKILL after a grace period), never by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from kubelet_core import ApiClientConfig
from kubelet_core._apiclient import KubeApi

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "kubelet_core._cli.main")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll an async ``condition()`` until true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await condition():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(interval)


class Child:
    """One subprocess, its log file, and a psutil handle for resource samples."""

    def __init__(
        self, name: str, argv: Sequence[str], log_file: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.extra_env = dict(env or {})
        self.argv = list(argv)
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None
        self.ps: psutil.Process | None = None

    async def start(self) -> None:
        log = self.log_file.open("ab")
        env = {**os.environ, **self.extra_env}
        # ``python -m benchmarks.*`` must work whatever the caller's working directory.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL, env=env
            )
        finally:
            log.close()
        self.ps = psutil.Process(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def sample(self) -> ResourceSample:
        assert self.ps is not None
        with self.ps.oneshot():
            times = self.ps.cpu_times()
            rss, threads, fds = self.ps.memory_info().rss, self.ps.num_threads(), self.ps.num_fds()
        hosts = module_hosts(self.ps)
        return ResourceSample(
            at=time.monotonic(),
            cpu_seconds=times.user + times.system,
            rss_bytes=rss,
            threads=threads,
            fds=fds,
            hosts=len(hosts.unique),
            hosts_unique_bytes=sum(hosts.unique),
            zygote_rss_bytes=hosts.zygote_rss,
        )

    async def stop(self, grace: float = 20.0) -> float:
        """SIGTERM, then SIGKILL after ``grace``; returns the seconds the process took."""
        if self.process is None or self.process.returncode is not None:
            return 0.0
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return time.monotonic() - began


def context_switches(pid: int) -> int:
    """Voluntary context switches of every thread of ``pid`` (each one a wake-up)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


@dataclass(frozen=True)
class ResourceSample:
    at: float
    cpu_seconds: float
    rss_bytes: int  # the agent process itself
    threads: int
    fds: int
    hosts: int = 0  # module host processes (one per running WASI container)
    hosts_unique_bytes: int = 0  # their own pages: not shared with the zygote or each other
    zygote_rss_bytes: int = 0  # the shared parent, counted once


@dataclass(frozen=True)
class Hosts:
    unique: list[int]
    zygote_rss: int


def _unique_bytes(pid: int) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1]) * 1024
    return total


def module_hosts(agent: psutil.Process) -> Hosts:
    """The agent's zygotes and their module hosts (the WASI provider's processes).

    The hosts are the children of the zygote's forker (the zygote's child that
    has children); the forker's own pages, and those of the spare it forked
    ahead of the next start (``wasmlet-spare``), are shared overhead like the
    zygote's and are counted with it, once.  A host whose forker went away is the
    zygote's own child.
    """
    unique: list[int] = []
    zygote_rss = 0
    with contextlib.suppress(psutil.Error):
        for child in agent.children():
            with contextlib.suppress(psutil.Error):
                if "wasmlet_wasi.zygote" not in " ".join(child.cmdline()):
                    continue
                zygote_rss += child.memory_info().rss
                for below in child.children():
                    with contextlib.suppress(psutil.Error):
                        hosts = below.children()
                        if hosts:  # the forker
                            zygote_rss += _unique_bytes(below.pid)
                            for host in hosts:
                                with contextlib.suppress(psutil.Error):
                                    if host.name() == "wasmlet-spare":  # forked ahead
                                        zygote_rss += _unique_bytes(host.pid)
                                    else:
                                        unique.append(_unique_bytes(host.pid))
                        else:
                            unique.append(_unique_bytes(below.pid))
    return Hosts(unique, zygote_rss)


def cpu_seconds(process: psutil.Process, *, descendants: bool = False) -> float:
    """CPU time of ``process`` (its reaped children's included), or of all below it.

    ``descendants``: the sum over every process below ``process`` (for an agent,
    its zygote, the forker and the module hosts), not ``process`` itself.
    """
    total = 0.0
    with contextlib.suppress(psutil.Error):
        targets = process.children(recursive=True) if descendants else [process]
        for each in targets:
            with contextlib.suppress(psutil.Error):
                t = each.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


class ControlPlaneProcess(Child):
    """``wasmlet controlplane`` on a free loopback port; writes ``data_dir/kubeconfig``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            *CLI,
            "controlplane",
            "--data-dir",
            str(data_dir),
            "--api-port",
            str(self.port),
            "--log-format",
            "json",
        ]
        super().__init__("controlplane", argv, data_dir / "controlplane.log")

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    async def start(self) -> None:
        await super().start()
        api: list[KubeApi] = []

        async def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"control plane exited; see {self.log_file}")
            if not self.kubeconfig.exists():
                return False
            if not api:
                api.append(await KubeApi.from_kubeconfig(self.kubeconfig))
            await api[0].request("GET", "/api/v1/namespaces/default")
            return True

        try:
            await wait_until(ready, 60, "control plane ready")
        finally:
            for client in api:
                await client.close()


class AgentProcess(Child):
    """``wasmlet node`` with the given provider; ``wait_ready`` waits for node Ready."""

    def __init__(
        self,
        kubeconfig: Path,
        data_dir: Path,
        node_name: str,
        *,
        provider: str = "wasi",
        max_pods: int = 110,
        qps: float | None = None,
        burst: int | None = None,
        env: dict[str, str] | None = None,
        nodes: int = 1,
    ) -> None:
        self.node_name = node_name
        self.nodes = nodes
        self.kubeconfig = kubeconfig
        self.metrics_file = data_dir / f"metrics-{node_name}.prom"
        argv = [
            sys.executable,
            "-m",
            "benchmarks.agent",
            "--metrics-file",
            str(self.metrics_file),
            "--kubeconfig",
            str(kubeconfig),
            "--provider",
            provider,
            "--node-name",
            node_name,
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--max-pods",
            str(max_pods),
            "--log-format",
            "json",
            "--log-level",
            "warning",
            "--no-keep-pods-on-exit",  # a benchmark's pods end with its agent
        ]
        if nodes > 1:
            argv += ["--nodes", str(nodes)]  # nodes <node_name>-0 ... -<nodes-1>
        if qps is not None:
            argv += ["--kube-api-qps", str(qps)]
        if burst is not None:
            argv += ["--kube-api-burst", str(burst)]
        super().__init__(f"agent {node_name}", argv, data_dir / f"agent-{node_name}.log", env)
        self.kubelet_port = 0

    async def wait_ready(self, api: KubeApi, timeout: float = 60) -> None:
        async def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"agent exited; see {self.log_file}")
            node = await api.request("GET", f"/api/v1/nodes/{self.node_name}")
            status = node.get("status") or {}
            self.kubelet_port = int(
                ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port", 0)
            )
            return (
                any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or []
                )
                and self.kubelet_port > 0
            )

        await wait_until(ready, timeout, f"node {self.node_name} Ready", interval=0.1)

    async def api_requests(self) -> dict[str, float]:
        """``wasmlet_api_requests_total`` by ``"verb resource"`` (summed over codes).

        Asks the agent for a dump (SIGUSR1, see :mod:`benchmarks.agent`) and reads it.
        """
        before = self.metrics_file.stat().st_mtime_ns if self.metrics_file.exists() else 0
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR1)

        async def dumped() -> bool:
            return self.metrics_file.exists() and self.metrics_file.stat().st_mtime_ns != before

        await wait_until(dumped, 10, "agent metrics dump", interval=0.01)
        return parse_api_requests(self.metrics_file.read_text())

    def api_seconds(self) -> dict[str, float]:
        """Seconds spent in API requests by ``"verb resource"``, from the last dump."""
        return parse_api_requests(self.metrics_file.read_text(), _LATENCY_SUM)


_REQUESTS_TOTAL = "wasmlet_api_requests_total{"
_LATENCY_SUM = "wasmlet_api_request_duration_seconds_sum{"


async def wait_quiet(agent: AgentProcess, limit: float = 180.0, window: float = 2.0) -> float:
    """Wait until the agent made no API request but lease renewals for ``window`` s; the
    seconds waited.

    After 100 pod starts the agent is still sending their Events for a while (the
    recorder's queue drains at the client's QPS); idle is measured after that.  With
    the default budget (50 QPS, burst 100) 2 quiet seconds also refill the agent's
    whole burst, so a batch measured next starts on a node with its budget intact.
    """
    began = time.monotonic()
    previous = -1.0
    while time.monotonic() - began < limit:
        counts = await agent.api_requests()
        busy = sum(v for k, v in counts.items() if "leases" not in k)
        if busy == previous:
            break
        previous = busy
        await asyncio.sleep(window)
    return time.monotonic() - began


#: The agent's own API budget when a run sets none: ``wasmlet node``'s defaults (kubelet's).
AGENT_DEFAULT_QPS = ApiClientConfig().qps
AGENT_DEFAULT_BURST = ApiClientConfig().burst


def parse_api_requests(text: str, metric: str = _REQUESTS_TOTAL) -> dict[str, float]:
    """``metric``'s samples summed by ``"verb resource"`` (over codes, say)."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(metric):
            continue
        labels, _, value = line.rpartition(" ")
        parsed = dict(part.split("=", 1) for part in labels[labels.index("{") + 1 : -1].split(","))
        key = f"{parsed['verb'].strip(chr(34))} {parsed['resource'].strip(chr(34))}"
        counts[key] = counts.get(key, 0.0) + float(value)
    return counts


@contextlib.asynccontextmanager
async def running(child: Child) -> AsyncIterator[Child]:
    await child.start()
    try:
        yield child
    finally:
        await child.stop()
