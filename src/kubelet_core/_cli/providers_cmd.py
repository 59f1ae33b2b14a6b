"""``wasmlet providers``: list the installed provider plugins."""

from __future__ import annotations

import argparse
from typing import Any

from kubelet_core._provider import ENTRY_POINT_GROUP, available_providers


def register(commands: Any) -> None:
    parser = commands.add_parser("providers", help="list installed providers")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    providers = available_providers()
    if not providers:
        print(f"no providers installed (entry point group {ENTRY_POINT_GROUP})")
    for name, entry_point in sorted(providers.items()):
        print(f"{name}\t{entry_point.value}")
    return 0
