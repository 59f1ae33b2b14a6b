"""``wasmlet up``: an embedded control plane plus one node per provider, in one process.

It is the newcomer's path: no cluster, no kubectl set-up.  The control plane
writes ``DATA_DIR/kubeconfig`` (admin credentials, for kubectl); each node,
named ``wasmlet-<provider>``, joins as a kubelet does: with a bootstrap token
it gets its own certificate and is ``system:node:<name>``.  Modules the providers bundle for the
examples are imported into the module store first, so the sample pods run
offline.  ``--apply`` creates manifests once the nodes are Ready and prints
what happens to the pods.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from kubelet_core._cli.errors import UserError
from kubelet_core._cli.manifests import collection_path, load_manifests
from kubelet_core._cli.node_cmd import (
    add_node_flags,
    config_of,
    fleet_configs,
    settings_from_args,
)
from kubelet_core._cli.settings import NodeSettings
from kubelet_core._lifecycle import ShutdownSignals
from kubelet_core._observability import configure_logging
from kubelet_core._provider import Provider, available_providers, load_provider

log = structlog.get_logger("wasmlet.up")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "up", help="start a control plane and a node per provider (no cluster needed)"
    )
    parser.add_argument("--api-port", type=int, default=6443, help="API server port (0: any free)")
    parser.add_argument(
        "--provider",
        action="append",
        dest="providers",
        metavar="NAME",
        help="run a node for this provider (repeatable; default: every installed provider)",
    )
    parser.add_argument(
        "--apply",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="create the objects in FILE (or a directory) once the nodes are ready",
    )
    parser.add_argument(
        "--exit-when-done",
        action="store_true",
        help="with --apply: exit once every applied pod has finished (for scripts and CI)",
    )
    add_node_flags(parser, with_identity=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    base = settings_from_args(args, provider="wasi", node_name="wasmlet")
    configure_logging(base.log_format, base.log_level)
    # `sim` (nodes that run nothing) only when asked for: `wasmlet up --provider sim`.
    names = args.providers or sorted(set(available_providers()) - {"sim"})
    if not names:
        raise UserError("no provider is installed (pip install wasmlet-provider-wasi)")
    providers: dict[str, Provider] = {}
    for name in names:
        try:
            providers[name] = load_provider(name)
        except (LookupError, TypeError) as error:
            raise UserError(str(error)) from error
    manifests = load_manifests(args.apply) if args.apply else []
    nodes = max(1, getattr(args, "nodes", None) or 1)
    return asyncio.run(_up(base, providers, args.api_port, manifests, args.exit_when_done, nodes))


async def _up(
    base: NodeSettings,
    providers: dict[str, Provider],
    api_port: int,
    manifests: list[dict[str, Any]],
    exit_when_done: bool,
    nodes: int = 1,
) -> int:
    async with ShutdownSignals() as signals:
        return await _run_up(signals, base, providers, api_port, manifests, exit_when_done, nodes)


async def _run_up(
    signals: ShutdownSignals,
    base: NodeSettings,
    providers: dict[str, Provider],
    api_port: int,
    manifests: list[dict[str, Any]],
    exit_when_done: bool,
    nodes: int = 1,
) -> int:
    from kubelet_core._agent import NodeAgent
    from kubelet_core._apiclient import KubeApi
    from kubelet_core._controlplane import ControlPlane
    from kubelet_core._controlplane.runtimeclass import ensure_runtime_classes, runtime_classes_for
    from kubelet_core._fleet import NodeFleet
    from kubelet_core._modules import ModuleStore
    from kubelet_core._pki import write_private

    data_dir = base.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = data_dir / "kubeconfig"
    store = ModuleStore(data_dir / "modules")
    for provider in providers.values():
        for reference, path in provider.bundled_modules().items():
            await store.import_file(path, reference)

    controlplane = ControlPlane(
        data_dir / "controlplane", host=base.node_ip, port=api_port, kubeconfig_path=kubeconfig
    )
    await controlplane.start()
    # One RuntimeClass per provider, so `runtimeClassName: wasmlet-wasi` is all a pod needs.
    assert controlplane.registry is not None
    await ensure_runtime_classes(
        controlplane.registry,
        [
            rc
            for provider in providers.values()
            for rc in runtime_classes_for(provider.node_profile())
        ],
    )
    # The nodes join as kubelets do: a bootstrap token, an auto-approved CSR, then
    # their own identity (system:node:<name>), never the admin's credentials.
    token = await controlplane.create_bootstrap_token(ttl=dt.timedelta(hours=1))
    bootstrap = data_dir / "bootstrap-kubeconfig"
    write_private(bootstrap, controlplane.bootstrap_kubeconfig(token).encode())
    agents: list[NodeAgent] = []
    fleets: list[NodeFleet] = []
    tasks: list[asyncio.Future[None]] = []
    exit_code = 0
    try:
        for name, provider in providers.items():
            if signals.requested.is_set():
                return 0
            settings = base.model_copy(
                update={
                    "kubeconfig": None,  # the node's own: <node dir>/kubelet.conf
                    "bootstrap_kubeconfig": bootstrap,
                    "provider": name,
                    "node_name": f"wasmlet-{name}",
                    "port": 0,
                    "data_dir": data_dir,
                    # The control plane goes with `wasmlet up`: so do its pods.
                    "keep_pods_on_exit": False,
                }
            )
            if nodes > 1:
                # A simulation fleet shares one client, so it runs with the admin
                # kubeconfig, not N node identities (docs/cli.md).
                shared = settings.model_copy(
                    update={"kubeconfig": kubeconfig, "bootstrap_kubeconfig": None}
                )
                fleet = NodeFleet(_factory(name, provider), fleet_configs(shared, nodes))
                await fleet.start()
                agents.extend(fleet.agents)
                fleets.append(fleet)
                tasks.append(asyncio.ensure_future(fleet.run()))
                continue
            agent = NodeAgent(provider, config_of(settings))
            agents.append(agent)
            await agent.start()
            tasks.append(asyncio.ensure_future(agent.run()))
        _print_banner(controlplane.url, kubeconfig, [a.node_name for a in agents])

        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(signals.requested.wait())]
        if manifests:
            waiters.append(asyncio.ensure_future(_apply_manifests(KubeApi, kubeconfig, manifests)))
        try:
            while True:
                done, _ = await asyncio.wait(
                    [*waiters, *tasks], return_when=asyncio.FIRST_COMPLETED
                )
                if waiters[0] in done:
                    break
                ended = [task for task in tasks if task in done]
                if ended:  # an agent stopped on its own: a controller failed
                    for task in ended:
                        if not task.cancelled() and task.exception() is not None:
                            log.error("a node agent failed", error=str(task.exception()))
                    exit_code = 1
                    break
                exit_code = waiters[1].result()
                waiters.pop()
                if exit_when_done:
                    break
        finally:
            for waiter in waiters:
                waiter.cancel()
    finally:
        for fleet in fleets:
            with contextlib.suppress(Exception):
                await fleet.stop()
        for agent in reversed(agents):
            with contextlib.suppress(Exception):
                await agent.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await controlplane.stop()
    return exit_code


async def _apply_manifests(
    client_class: Any, kubeconfig: Path, manifests: list[dict[str, Any]]
) -> int:
    api = await client_class.from_kubeconfig(kubeconfig)
    try:
        return await _apply_and_follow(api, manifests)
    finally:
        await api.close()


def _print_banner(url: str, kubeconfig: Path, nodes: list[str]) -> None:
    print(
        f"\nwasmlet is up: API server {url}, nodes {', '.join(nodes)}\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        "  kubectl get nodes -o wide\n"
        "  kubectl apply -f examples/hello-wasi.yaml && kubectl get pods -w\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


async def _apply_and_follow(api: Any, manifests: list[dict[str, Any]]) -> int:
    """Create the manifests, then report each pod's phase (and logs) until it finishes."""
    from kubelet_core._apiclient import ApiError

    pods: list[tuple[str, str]] = []
    for obj in manifests:
        path = collection_path(obj)
        name = obj.get("metadata", {}).get("name", "?")
        try:
            created = await api.request("POST", path, body=obj)
            print(f"{obj['kind'].lower()}/{name} created", flush=True)
        except ApiError as error:
            if error.status != 409:
                print(f"{obj['kind'].lower()}/{name}: {error}", file=sys.stderr, flush=True)
                continue
            print(f"{obj['kind'].lower()}/{name} unchanged (already exists)", flush=True)
            created = obj
        if obj["kind"] == "Pod":
            namespace = created.get("metadata", {}).get("namespace") or "default"
            pods.append((namespace, name))
    if not pods:
        return 0
    return await _follow_pods(api, pods)


async def _follow_pods(api: Any, pods: list[tuple[str, str]]) -> int:
    pending = set(pods)
    last_phase: dict[tuple[str, str], str] = {}
    failed = False
    async for event in api.watch("/api/v1/pods", params={}):
        obj = event.get("object", {})
        meta = obj.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if key not in pending:
            continue
        phase = obj.get("status", {}).get("phase", "Pending")
        if last_phase.get(key) != phase:
            last_phase[key] = phase
            print(f"pod/{key[1]}: {phase}", flush=True)
        if phase in {"Succeeded", "Failed"}:
            failed = failed or phase == "Failed"
            for status in obj.get("status", {}).get("containerStatuses", []):
                terminated = status.get("state", {}).get("terminated", {})
                print(
                    f"  container {status.get('name')}: exit code {terminated.get('exitCode')}"
                    f" ({terminated.get('reason', '')})",
                    flush=True,
                )
            await _print_logs(api, key)
            pending.discard(key)
        if not pending:
            break
    return 1 if failed else 0


async def _print_logs(api: Any, key: tuple[str, str]) -> None:
    """Show a finished pod's output, fetched the way ``kubectl logs`` does (pods/log)."""
    from kubelet_core._apiclient import ApiError

    namespace, name = key
    try:
        output = await api.request_bytes("GET", f"/api/v1/namespaces/{namespace}/pods/{name}/log")
    except ApiError as error:
        print(f"  (logs unavailable: {error})", flush=True)
        return
    print(f"  kubectl logs {name}:", flush=True)
    for line in output.decode(errors="replace").splitlines():
        print(f"  | {line}", flush=True)


def _factory(name: str, first: Provider) -> Callable[[str], Provider]:
    """The first node of a fleet gets the provider already loaded, the others new ones."""
    handed: list[Provider] = [first]

    def make(_node: str) -> Provider:
        return handed.pop() if handed else load_provider(name)

    return make
