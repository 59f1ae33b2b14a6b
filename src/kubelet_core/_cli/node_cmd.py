"""``wasmlet node``: join a cluster from a kubeconfig and run pods with a provider."""

from __future__ import annotations

import argparse
import asyncio
import gc
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kubelet_core._cli.errors import UserError
from kubelet_core._cli.settings import NodeSettings, load_settings
from kubelet_core._config import NodeConfig
from kubelet_core._observability import configure_logging
from kubelet_core._provider import load_provider


def add_node_flags(parser: argparse.ArgumentParser, *, with_identity: bool = True) -> None:
    """Flags shared by ``node`` and ``up``; unset flags fall back to env and file."""
    group = parser.add_argument_group("node")
    if with_identity:
        group.add_argument("--kubeconfig", type=Path, help="kubeconfig of the cluster to join")
        group.add_argument(
            "--bootstrap-kubeconfig",
            type=Path,
            help="bootstrap credentials: get a node certificate and write --kubeconfig",
        )
        group.add_argument("--provider", help="provider entry point name (default: wasi)")
        group.add_argument("--node-name", help="node name (default: host name)")
        group.add_argument("--port", type=int, help="kubelet API port (default: 10250)")
    group.add_argument("--node-ip", help="address advertised and bound (default: 127.0.0.1)")
    group.add_argument("--data-dir", type=Path, help="state directory (default: ~/.wasmlet)")
    group.add_argument("--max-pods", type=int, help="pods this node accepts (default: 110)")
    group.add_argument("--node-labels", help="extra labels, k=v,k2=v2")
    group.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="run N nodes in this process, named <node-name>-<i> (simulation, density)",
    )
    group.add_argument(
        "--rotate-certificates",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="renew the node's client certificate before it expires (default: on)",
    )
    group.add_argument(
        "--rotate-server-certificates",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="request the kubelet API's serving certificate from the cluster (default: off)",
    )
    group.add_argument("--kube-api-qps", type=float, help="API requests per second (default: 50)")
    group.add_argument("--kube-api-burst", type=int, help="API request burst (default: 100)")
    group.add_argument("--insecure-registries", help="registries reached over plain HTTP, a,b")
    group.add_argument("--allowed-host-paths", help="dirs hostPath volumes may use, a,b")
    group.add_argument("--container-log-max-size", help="log rotation size (10Mi)")
    group.add_argument("--container-log-max-files", type=int, help="log files kept (5)")
    group.add_argument("--client-ca-file", type=Path, help="kubelet API client CA")
    group.add_argument("--tls-cert-file", type=Path, help="kubelet API serving certificate")
    group.add_argument("--tls-private-key-file", type=Path, help="its private key")
    group.add_argument(
        "--anonymous-auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow unauthenticated kubelet API requests (default: no)",
    )
    group.add_argument(
        "--drain-on-shutdown",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="evict this node's pods when stopping (default: leave them)",
    )
    group.add_argument(
        "--keep-pods-on-exit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="leave containers running when the agent stops, for the next one to re-adopt "
        "(default: yes, as kubelet)",
    )
    group.add_argument(
        "--pod-default-memory-limit", help="memory limit of containers that set none (512Mi)"
    )
    group.add_argument("--pod-max-open-files", type=int, help="open files per container (1024)")
    group.add_argument(
        "--pod-default-user",
        type=int,
        help="uid/gid of containers whose pod sets no runAsUser, for a root agent (65534)",
    )
    group.add_argument(
        "--kubelet-api-max-connections", type=int, help="kubelet API connections at once (256)"
    )
    group.add_argument("--config", type=Path, help="YAML or JSON settings file")
    group.add_argument("--log-format", choices=["console", "json"])
    group.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> NodeSettings:
    flags = {
        name: getattr(args, name, None)
        for name in (
            "kubeconfig",
            "bootstrap_kubeconfig",
            "rotate_certificates",
            "rotate_server_certificates",
            "provider",
            "node_name",
            "port",
            "node_ip",
            "data_dir",
            "max_pods",
            "node_labels",
            "kube_api_qps",
            "kube_api_burst",
            "insecure_registries",
            "allowed_host_paths",
            "container_log_max_size",
            "container_log_max_files",
            "client_ca_file",
            "tls_cert_file",
            "tls_private_key_file",
            "anonymous_auth",
            "drain_on_shutdown",
            "keep_pods_on_exit",
            "pod_default_memory_limit",
            "pod_max_open_files",
            "pod_default_user",
            "kubelet_api_max_connections",
            "log_format",
            "log_level",
        )
    }
    flags.update(overrides)
    try:
        return load_settings(flags, getattr(args, "config", None))
    except ValidationError as error:
        raise UserError(f"invalid settings: {error}") from error
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from error


def config_of(settings: NodeSettings) -> NodeConfig:
    """The library's config for the command's settings; its checks become user errors."""
    try:
        return settings.to_config()
    except (TypeError, ValueError) as error:
        raise UserError(f"invalid settings: {error}") from error


def register(commands: Any) -> None:
    parser = commands.add_parser("node", help="join a cluster and run its wasm pods")
    add_node_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    config = config_of(settings)
    configure_logging(settings.log_format, settings.log_level)
    if (
        settings.kubeconfig is not None
        and settings.bootstrap_kubeconfig is None
        and not settings.kubeconfig.is_file()
    ):
        raise UserError(f"kubeconfig {settings.kubeconfig}: no such file")
    if settings.bootstrap_kubeconfig is not None and not settings.bootstrap_kubeconfig.is_file():
        raise UserError(f"bootstrap kubeconfig {settings.bootstrap_kubeconfig}: no such file")
    try:
        provider = load_provider(settings.provider)
    except (LookupError, TypeError) as error:
        raise UserError(str(error)) from error
    import yaml
    from kubernetes_asyncio.config.config_exception import ConfigException

    from kubelet_core._node.certificates import CertificateError

    try:
        nodes = getattr(args, "nodes", None) or 1
        if nodes > 1:
            asyncio.run(_run_fleet(settings.provider, fleet_configs(settings, nodes)))
        else:
            asyncio.run(_run_node(provider, config))
    except CertificateError as error:
        raise UserError(str(error)) from error
    except (ConfigException, yaml.YAMLError) as error:
        raise UserError(f"cannot use the kubeconfig {settings.kubeconfig}: {error}") from error
    return 0


def freeze_startup_heap() -> None:
    """Put everything allocated so far out of the garbage collector's sight.

    A node agent's full collections otherwise walk the ~100k objects its imports
    made (120-145 ms each, four of them while 500 pods start, measured in the
    benchmark).  The command owns its process, so it may; the library leaves the
    collector alone for the programs that embed it.
    """
    gc.collect()
    gc.freeze()


async def _run_node(provider: Any, config: NodeConfig) -> None:
    from kubelet_core._agent import NodeAgent

    agent = NodeAgent(provider, config)
    freeze_startup_heap()
    await agent.run(handle_signals=True)


def fleet_configs(settings: NodeSettings, nodes: int) -> list[NodeConfig]:
    """``nodes`` node configs named ``<name>-<i>`` (i from 0); kubelet API ports
    ``port+i`` (all free ones with port 0); everything else as given."""
    return [
        config_of(
            settings.model_copy(
                update={
                    "node_name": f"{settings.node_name}-{index}",
                    "port": settings.port + index if settings.port else 0,
                }
            )
        )
        for index in range(nodes)
    ]


async def _run_fleet(provider_name: str, configs: list[NodeConfig]) -> None:
    from kubelet_core._fleet import NodeFleet

    fleet = NodeFleet(lambda _name: load_provider(provider_name), configs)
    freeze_startup_heap()
    await fleet.run(handle_signals=True)
