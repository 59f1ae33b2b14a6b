"""``wasmlet join``: join a cluster with a bootstrap token, as ``kubeadm join`` does.

``wasmlet join https://10.0.0.1:6443 --token abcdef.0123456789abcdef
--discovery-token-ca-cert-hash sha256:…`` (what ``wasmlet controlplane token
create --print-join-command`` or ``kubeadm token create --print-join-command``
prints) discovers the cluster as kubeadm's token discovery does: it reads the
``cluster-info`` ConfigMap in ``kube-public`` anonymously and without verifying
TLS (there is nothing to verify with yet), waiting until the bootstrap signer has
put ``jws-kubeconfig-<token-id>`` in it; it trusts the ``kubeconfig`` there only
if that detached JWS is what the token's secret signs it to (so whoever answered
knows the token), then only if its CA hashes to the pin; it reads cluster-info a
second time over TLS verified with that CA and requires the same kubeconfig.
Then it writes a bootstrap kubeconfig with the token next to the node's state
and runs the node with ``--bootstrap-kubeconfig``: the node gets its own
certificate through a CSR and is ``system:node:<name>`` from then on.  Running it
again, or ``wasmlet node`` with the same ``--data-dir``, reuses the node's
credentials.  Failures carry kubeadm's messages, so a search for one finds the
same causes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import ssl

import aiohttp
import yaml  # type: ignore[import-untyped,unused-ignore]

from kubelet_core._cli import node_cmd
from kubelet_core._cli.errors import UserError
from kubelet_core._pki import (
    UntrustedCA,
    bootstrap_kubeconfig,
    detached_signature_valid,
    write_private,
)

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
KUBECONFIG_KEY = "kubeconfig"
SIGNATURE_PREFIX = "jws-kubeconfig-"
CA_KEY = "certificate-authority-data"
#: cluster-bootstrap's BootstrapTokenPattern (Go's \z is Python's \Z; fullmatch anchors it).
TOKEN_PATTERN = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"
TOKEN = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
#: kubeadm's defaults: JoinConfiguration timeouts.discovery and DiscoveryRetryInterval.
DISCOVERY_TIMEOUT = 300.0
DISCOVERY_RETRY_INTERVAL = 5.0


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
    parser.add_argument(
        "--discovery-timeout",
        type=_timeout,
        default=DISCOVERY_TIMEOUT,
        help="how long to wait for cluster-info signed with the token (kubeadm's "
        "timeouts.discovery, default 5m)",
    )
    node_cmd.add_node_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = node_cmd.settings_from_args(args)
    node_dir = settings.data_dir / "nodes" / settings.node_name
    boot = args.bootstrap_kubeconfig or node_dir / "bootstrap-kubeconfig"
    text = asyncio.run(
        discover(
            args.server,
            args.token,
            args.discovery_token_ca_cert_hash,
            timeout=args.discovery_timeout,
        )
    )
    try:
        boot.parent.mkdir(parents=True, exist_ok=True)
        write_private(boot, text.encode())
    except OSError as error:
        raise UserError(f"cannot write the bootstrap kubeconfig {boot}: {error}") from error
    args.bootstrap_kubeconfig = boot
    return node_cmd.run(args)


def _q(text: str) -> str:
    """Go's %q for the strings kubeadm's messages quote."""
    return json.dumps(text)


def _timeout(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 30s or 5m")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    return float(match.group(1)) * scale


async def discover(
    server: str,
    token: str,
    ca_cert_hash: str,
    *,
    timeout: float = DISCOVERY_TIMEOUT,
    interval: float = DISCOVERY_RETRY_INTERVAL,
) -> str:
    """The bootstrap kubeconfig for ``server``: cluster-info signed by ``token``, its CA
    checked against the pin (kubeadm's RetrieveValidatedConfigInfo)."""
    if not server.startswith("https://"):
        raise UserError(f"the server must be an https:// URL, not {server!r}")
    match = TOKEN.fullmatch(token)
    if match is None:
        raise UserError(f"the bootstrap token {_q(token)} was not of the form {_q(TOKEN_PATTERN)}")
    token_id, token_secret = match.groups()
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # only to read cluster-info; nothing else trusts it
    data = await _signed_cluster_info(server, insecure, token_id, timeout, interval)
    content = data.get(KUBECONFIG_KEY) or ""
    if not content:
        raise UserError(
            f"there is no {KUBECONFIG_KEY} key in the cluster-info ConfigMap. This API Server "
            "isn't set up for token bootstrapping, can't connect"
        )
    signature = data.get(SIGNATURE_PREFIX + token_id) or ""
    if not signature:
        raise UserError(
            f"token id {_q(token_id)} is invalid for this cluster or it has expired. Use "
            '"wasmlet controlplane token create" (or "kubeadm token create") on the '
            "control-plane node to create a new valid token"
        )
    if not detached_signature_valid(signature, content, token_id, token_secret):
        raise UserError(
            "failed to verify JWS signature of received cluster info object, "
            "can't trust this API Server"
        )
    try:
        text = bootstrap_kubeconfig(content, token, ca_cert_hash)
        ca_pem = base64.b64decode(yaml.safe_load(content)["clusters"][0]["cluster"][CA_KEY])
    except UntrustedCA as error:
        raise UserError(
            f"cluster CA found in cluster-info ConfigMap is invalid: {error}"
        ) from error
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as error:
        raise UserError(f"malformed kubeconfig in the cluster-info ConfigMap: {error}") from error
    # Connect back with the pinned CA and require the same kubeconfig: the first answer
    # came over TLS nobody checked.
    verified = ssl.create_default_context(cadata=ca_pem.decode())
    again = await _signed_cluster_info(server, verified, token_id, timeout, interval)
    if again.get(KUBECONFIG_KEY) != content:
        raise UserError(
            "the second kubeconfig from the cluster-info ConfigMap (using validated TLS) "
            "was different from the first"
        )
    return text


async def _signed_cluster_info(
    server: str, context: ssl.SSLContext, token_id: str, timeout: float, interval: float
) -> dict[str, str]:
    """cluster-info's data once it has a signature for ``token_id`` (the signer adds it
    a moment after the token is made), polling every ``interval`` for ``timeout``
    seconds as kubeadm does; the last reason it was not there is the error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = min(interval, timeout)
    client_timeout = aiohttp.ClientTimeout(total=max(timeout, 1.0))
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        while True:
            try:
                reason = await _read_cluster_info(session, server, context)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                reason = f"failed to request the cluster-info ConfigMap: {error}"
            if isinstance(reason, dict):
                if SIGNATURE_PREFIX + token_id in reason:
                    return reason
                reason = (
                    "could not find a JWS signature in the cluster-info ConfigMap for token "
                    f"ID {_q(token_id)}"
                )
            if loop.time() + interval > deadline:
                raise UserError(reason)
            await asyncio.sleep(interval)  # kubeadm's poll: nothing to be notified by


async def _read_cluster_info(
    session: aiohttp.ClientSession, server: str, context: ssl.SSLContext
) -> dict[str, str] | str:
    """cluster-info's ``data``, or why it could not be read."""
    async with session.get(server.rstrip("/") + CLUSTER_INFO, ssl=context) as response:
        body = await response.read()
        if response.status != 200:
            return (
                f"failed to request the cluster-info ConfigMap: {server} answered "
                f"{response.status}: is this a cluster that publishes it (kubeadm, wasmlet "
                "controlplane)?"
            )
    try:
        data = json.loads(body).get("data") or {}
    except (ValueError, AttributeError) as error:
        return f"failed to request the cluster-info ConfigMap: not a ConfigMap: {error}"
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


__all__ = ["discover", "register", "run"]
