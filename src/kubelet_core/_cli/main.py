"""Argument parsing and dispatch for ``wasmlet``.

Each subcommand lives in its own module; this one only wires them together.
Flags mirror the kubelet's where one exists (``--node-ip``, ``--max-pods``,
``--node-labels``, ``--kube-api-qps``) and every node flag can also come from
``WASMLET_*`` environment variables or a ``--config`` file.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata
import signal
import sys
from collections.abc import Sequence

from kubelet_core._cli import (
    controlplane_cmd,
    join_cmd,
    modules_cmd,
    node_cmd,
    providers_cmd,
    up_cmd,
)
from kubelet_core._cli.errors import UserError
from kubelet_core._lifecycle import ControllerFailed

CLI_ENTRY_POINT_GROUP = "kubelet_core.cli"  # a public name: plugins register under it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wasmlet",
        description="A Kubernetes node agent that runs WebAssembly pods.",
    )
    parser.add_argument("--version", action="version", version=f"wasmlet {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    node_cmd.register(commands)
    join_cmd.register(commands)
    up_cmd.register(commands)
    controlplane_cmd.register(commands)
    modules_cmd.register(commands)
    providers_cmd.register(commands)
    for entry_point in importlib.metadata.entry_points(group=CLI_ENTRY_POINT_GROUP):
        try:
            entry_point.load()(commands)
        except Exception as error:  # a broken plugin must not break the binary
            print(f"wasmlet: ignoring CLI plugin {entry_point.name!r}: {error}", file=sys.stderr)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("kubelet-core")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _exit_on_signal(signum: int, frame: object) -> None:
    """Until a command installs its graceful handlers, a signal just ends the process."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    try:
        try:
            result = handler(args)
        except ControllerFailed as failure:
            if isinstance(failure.__cause__, OSError):  # e.g. the kubelet API port is taken
                raise failure.__cause__ from failure
            raise
    except KeyboardInterrupt:
        return 130
    except UserError as error:
        print(f"wasmlet: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a port in use, an unwritable data dir: the user's to fix
        hint = (
            " (another wasmlet running? pick another port)"
            if error.errno == errno.EADDRINUSE
            else ""
        )
        print(f"wasmlet: error: {error}{hint}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
