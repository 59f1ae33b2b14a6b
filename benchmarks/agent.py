"""``python -m benchmarks.agent``: ``wasmlet node`` plus an on-demand metrics dump.

The same flags, settings and :class:`NodeAgent` as ``wasmlet node``.  The one
addition: on SIGUSR1 the agent's Prometheus registry is written to
``--metrics-file`` (then renamed into place), so the driver can count the
agent's API requests without going through the kubelet API -- whose ``/metrics``
needs a SubjectAccessReview the control plane may not answer -- and without a
periodic scrape that would itself cost the idle agent CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from prometheus_client import generate_latest

from kubelet_core._agent import NodeAgent
from kubelet_core._cli.node_cmd import (
    add_node_flags,
    config_of,
    fleet_configs,
    freeze_startup_heap,
    settings_from_args,
)
from kubelet_core._config import NodeConfig
from kubelet_core._fleet import NodeFleet
from kubelet_core._observability import configure_logging
from kubelet_core._provider import Provider, load_provider


def dump(agent: NodeAgent, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(generate_latest(agent.metrics.registry))
    os.replace(temporary, path)


async def serve(provider: Provider, config: NodeConfig, metrics_file: Path) -> None:
    agent = NodeAgent(provider, config)
    freeze_startup_heap()  # as `wasmlet node` does
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump, agent, metrics_file)
    await agent.run(handle_signals=True)


def dump_fleet(fleet: NodeFleet, path: Path) -> None:
    """Every node's registry, one after another (the driver sums the counters)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(b"".join(generate_latest(a.metrics.registry) for a in fleet.agents))
    os.replace(temporary, path)


async def serve_fleet(provider_name: str, configs: list[NodeConfig], metrics_file: Path) -> None:
    fleet = NodeFleet(lambda _name: load_provider(provider_name), configs)
    freeze_startup_heap()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_fleet, fleet, metrics_file)
    await fleet.run(handle_signals=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_node_flags(parser)
    parser.add_argument("--metrics-file", type=Path, required=True)
    args = parser.parse_args()
    settings = settings_from_args(args)
    configure_logging(settings.log_format, settings.log_level)
    if (args.nodes or 1) > 1:  # `wasmlet node --nodes N`: a NodeFleet
        configs = fleet_configs(settings, args.nodes)
        asyncio.run(serve_fleet(settings.provider, configs, args.metrics_file))
        return
    config = config_of(settings)
    asyncio.run(serve(load_provider(settings.provider), config, args.metrics_file))


if __name__ == "__main__":
    main()
