"""``wasmlet modules import|ls|rm``: manage the node's module store (like ``kind load``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from kubelet_core.cli.errors import UserError
from kubelet_core.config import load_settings


def register(commands: Any) -> None:
    parser = commands.add_parser("modules", help="manage the local module store")
    parser.add_argument("--data-dir", type=Path, help="state directory (default: ~/.wasmlet)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="add a local .wasm file under an image reference")
    imp.add_argument("file", type=Path)
    imp.add_argument("reference", help="e.g. registry.example/hello:v1")
    imp.set_defaults(handler=run_import)
    ls = actions.add_parser("ls", help="list stored modules")
    ls.set_defaults(handler=run_ls)
    rm = actions.add_parser("rm", help="remove a reference (its bytes go at the next gc)")
    rm.add_argument("reference")
    rm.set_defaults(handler=run_rm)
    gc = actions.add_parser("gc", help="delete unreferenced bytes, and old modules over a budget")
    gc.add_argument("--budget", help="keep at most this much, e.g. 500Mi (default: no limit)")
    gc.set_defaults(handler=run_gc)


def _store(args: argparse.Namespace) -> Any:
    from kubelet_core.modules import ModuleStore

    settings = load_settings({"data_dir": args.data_dir})
    return ModuleStore(settings.modules_dir)


def run_import(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    from kubelet_core.provider import ProviderError

    try:
        stored = asyncio.run(_store(args).import_file(args.file, args.reference))
    except ProviderError as error:
        raise UserError(f"cannot import {args.file}: {error.message}") from error
    print(f"imported {args.reference} ({stored.digest}, {stored.size} bytes)")
    return 0


def run_ls(args: argparse.Namespace) -> int:
    modules = asyncio.run(_store(args).list())
    print(f"{'REFERENCE':<50} {'DIGEST':<20} SIZE")
    for module in modules:
        print(f"{module.reference:<50} {module.digest[:19]:<20} {module.size}")
    return 0


def run_rm(args: argparse.Namespace) -> int:
    removed = asyncio.run(_store(args).remove(args.reference))
    if not removed:
        raise UserError(f"{args.reference}: not in the module store")
    print(f"removed {args.reference}")
    return 0


def parse_size(text: str) -> int:
    """A byte count with an optional Kubernetes-style suffix (500Mi, 2G)."""
    from kubelet_core.quantity import quantity_bytes

    try:
        return quantity_bytes(text)
    except ValueError:
        raise UserError(f"{text!r} is not a size (e.g. 500Mi)") from None


def run_gc(args: argparse.Namespace) -> int:
    budget = parse_size(args.budget) if args.budget else None
    result = asyncio.run(_store(args).gc(budget))
    print(
        f"removed {len(result.removed_references)} references and {result.removed_blobs} blobs,"
        f" freed {result.freed_bytes} bytes; {result.remaining_bytes} bytes remain"
    )
    return 0
