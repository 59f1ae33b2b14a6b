"""``wasmlet join``: join a cluster with a bootstrap token, as ``kubeadm join`` does.

``wasmlet join https://10.0.0.1:6443 --token abcdef.0123456789abcdef
--discovery-token-ca-cert-hash sha256:…`` (what ``wasmlet controlplane token
create --print-join-command`` or ``kubeadm token create --print-join-command``
prints) discovers the cluster: it reads the ``cluster-info`` ConfigMap in
``kube-public`` (anonymously; there is nothing to verify TLS with yet), trusts
its CA only if it hashes to the pin, and writes a bootstrap kubeconfig with the
token next to the node's state.  Then it runs the node with
``--bootstrap-kubeconfig``: the node gets its own certificate through a CSR and
is ``system:node:<name>`` from then on.  Running it again, or ``wasmlet node``
with the same ``--data-dir``, reuses the node's credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl

import aiohttp

from kubelet_core._cli import node_cmd
from kubelet_core._cli.errors import UserError
from kubelet_core._pki import UntrustedCA, bootstrap_kubeconfig, write_private

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "join", help="join a cluster with a bootstrap token (kubeadm join's way)"
    )
    parser.add_argument("server", help="the API server, https://host:port")
    parser.add_argument("--token", required=True, help="bootstrap token id.secret")
    parser.add_argument(
        "--discovery-token-ca-cert-hash",
        required=True,
        help="sha256:<hex> of the cluster CA's public key (the join command prints it)",
    )
    node_cmd.add_node_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = node_cmd.settings_from_args(args)
    node_dir = settings.data_dir / "nodes" / settings.node_name
    boot = args.bootstrap_kubeconfig or node_dir / "bootstrap-kubeconfig"
    text = asyncio.run(discover(args.server, args.token, args.discovery_token_ca_cert_hash))
    try:
        boot.parent.mkdir(parents=True, exist_ok=True)
        write_private(boot, text.encode())
    except OSError as error:
        raise UserError(f"cannot write the bootstrap kubeconfig {boot}: {error}") from error
    args.bootstrap_kubeconfig = boot
    return node_cmd.run(args)


async def discover(server: str, token: str, ca_cert_hash: str) -> str:
    """The bootstrap kubeconfig for ``server``, its CA checked against the pin."""
    if not server.startswith("https://"):
        raise UserError(f"the server must be an https:// URL, not {server!r}")
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # only to read the pinned CA; nothing else trusts it
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(server.rstrip("/") + CLUSTER_INFO, ssl=insecure) as response,
        ):
            body = await response.read()
            if response.status != 200:
                raise UserError(
                    f"cannot read kube-public/cluster-info from {server} "
                    f"({response.status}): is this a cluster that publishes it (kubeadm, "
                    "wasmlet controlplane)?"
                )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise UserError(f"cannot reach {server}: {error}") from error
    try:
        data = json.loads(body)["data"]["kubeconfig"]
        return bootstrap_kubeconfig(data, token, ca_cert_hash)
    except UntrustedCA as error:
        raise UserError(f"refusing to join: {error}") from error
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"cluster-info from {server} holds no kubeconfig: {error}") from error


__all__ = ["discover", "register", "run"]
