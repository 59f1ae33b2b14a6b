"""``wasmlet modules import|ls|rm``: manage the node's module store (like ``kind load``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from kubelet_core._cli.actions import ActionParsers
from kubelet_core._cli.errors import UserError
from kubelet_core._cli.settings import load_settings


def register(commands: Any) -> None:
    parser = commands.add_parser("modules", help="manage the local module store")
    actions = ActionParsers(parser, _shared_flags)
    imp = actions.add_parser("import", help="add a local .wasm file under an image reference")
    imp.add_argument("file", type=Path)
    imp.add_argument("reference", help="e.g. registry.example/hello:v1")
    imp.set_defaults(handler=run_import)
    pull = actions.add_parser("pull", help="pull a module from its registry (shows progress)")
    pull.add_argument("reference", help="e.g. registry.example/hello:v1 or repo@sha256:...")
    pull.add_argument("--always", action="store_true", help="check the registry even if stored")
    pull.add_argument("--insecure", action="store_true", help="plain HTTP to this registry")
    pull.add_argument("--username", help="registry user (password from WASMLET_REGISTRY_PASSWORD)")
    pull.set_defaults(handler=run_pull)
    ls = actions.add_parser("ls", help="list stored modules")
    ls.set_defaults(handler=run_ls)
    rm = actions.add_parser("rm", help="remove a reference (its bytes go at the next gc)")
    rm.add_argument("reference")
    rm.set_defaults(handler=run_rm)
    gc = actions.add_parser("gc", help="delete unreferenced bytes, and old modules over a budget")
    gc.add_argument("--budget", help="keep at most this much, e.g. 500Mi (default: no limit)")
    gc.set_defaults(handler=run_gc)


def _shared_flags(flags: argparse._ActionsContainer) -> None:
    """Flags of every action, before or after it: ``modules ls --data-dir D``."""
    flags.add_argument("--data-dir", type=Path, help="state directory (default: ~/.wasmlet)")


def _store(args: argparse.Namespace) -> Any:
    from kubelet_core._modules import ModuleStore

    settings = load_settings({"data_dir": args.data_dir})
    return ModuleStore(settings.modules_dir)


def run_import(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    from kubelet_core._provider import ProviderError

    try:
        stored = asyncio.run(_store(args).import_file(args.file, args.reference))
    except ProviderError as error:
        raise UserError(f"cannot import {args.file}: {error.message}") from error
    print(f"imported {args.reference} ({stored.digest}, {stored.size} bytes)")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from kubelet_core._modules import ImageReference, ModuleStore, RegistryCredentials
    from kubelet_core._provider import ProviderError

    settings = load_settings({"data_dir": args.data_dir})
    try:
        registry = ImageReference.parse(args.reference).registry
    except (ValueError, ProviderError) as error:
        raise UserError(str(error)) from error
    insecure = [*settings.insecure_registries, *([registry] if args.insecure else [])]
    store = ModuleStore(settings.modules_dir, insecure_registries=insecure)
    credentials = None
    if args.username:
        password = os.environ.get("WASMLET_REGISTRY_PASSWORD", "")
        credentials = RegistryCredentials(args.username, password)
    bar = ProgressBar(args.reference)
    try:
        stored = asyncio.run(
            _pull(
                store, args.reference, "Always" if args.always else "IfNotPresent", credentials, bar
            )
        )
    except ProviderError as error:
        bar.finish()
        raise UserError(f"cannot pull {args.reference}: {error.message}") from error
    bar.finish()
    print(f"pulled {args.reference} ({stored.digest}, {stored.size} bytes)")
    return 0


async def _pull(store: Any, reference: str, policy: str, credentials: Any, bar: Any) -> Any:
    try:
        return await store.pull(reference, policy, credentials, progress=bar.update)
    finally:
        await store.aclose()


class ProgressBar:
    """A one-line progress display on stderr for large pulls (only on a terminal)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = False
        self.interactive = sys.stderr.isatty()

    def update(self, done: int, total: int) -> None:
        if not self.interactive or total <= 0:
            return
        width = 30
        filled = width * done // total
        percent = 100 * done // total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {percent:3d}% {done}/{total} bytes")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


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
    from kubelet_core._quantity import quantity_bytes

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
