"""``wasmlet controlplane``: the embedded API server alone (nodes join with ``wasmlet node``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from kubelet_core._cli.signals import ShutdownSignals
from kubelet_core._observability import configure_logging


def register(commands: Any) -> None:
    parser = commands.add_parser("controlplane", help="run the embedded control plane alone")
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".wasmlet")
    parser.add_argument("--api-port", type=int, default=6443)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--log-format", choices=["console", "json"], default="console")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, "info")
    asyncio.run(_serve(args.data_dir.resolve(), args.host, args.api_port))
    return 0


async def _serve(data_dir: Path, host: str, port: int) -> None:
    from kubelet_core._controlplane import ControlPlane

    controlplane = ControlPlane(
        data_dir / "controlplane", host=host, port=port, kubeconfig_path=data_dir / "kubeconfig"
    )
    await controlplane.start()
    print(f"control plane at {controlplane.url}; KUBECONFIG={controlplane.kubeconfig_path}")
    try:
        async with ShutdownSignals() as signals:
            await signals.requested.wait()
    finally:
        await controlplane.stop()
