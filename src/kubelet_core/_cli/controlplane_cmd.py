"""``wasmlet controlplane``: the embedded API server alone (nodes join with ``wasmlet node``).

``wasmlet controlplane token create [--ttl 24h] [--print-join-command]`` makes a
bootstrap token on a running control plane, through its admin kubeconfig, and prints it
(or the ``wasmlet join`` command that uses it, as ``kubeadm token create
--print-join-command`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import re
import ssl
import tempfile
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
    actions = parser.add_subparsers(dest="controlplane_action")
    token = actions.add_parser("token", help="bootstrap tokens for joining nodes")
    token_actions = token.add_subparsers(dest="token_action", required=True)
    create = token_actions.add_parser("create", help="create a bootstrap token")
    create.add_argument("--ttl", default="24h", help="lifetime, e.g. 30m, 24h; 0 for none")
    create.add_argument("--print-join-command", action="store_true")
    # Also after the action (`wasmlet controlplane token create --data-dir D`).
    create.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    create.set_defaults(handler=run_token_create)


def _duration(text: str) -> dt.timedelta | None:
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if match is None:
        raise SystemExit(f"wasmlet: --ttl {text!r}: expected a number with s, m, h or d")
    value = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return dt.timedelta(seconds=value) if value else None


def run_token_create(args: argparse.Namespace) -> int:
    server, ca_pem, context = _admin_access(args.data_dir.resolve() / "kubeconfig")
    token = asyncio.run(_create_token(server, context, _duration(args.ttl)))
    if args.print_join_command:
        from kubelet_core import _pki
        from kubelet_core._controlplane import bootstrap_tokens

        ca_hash = _pki.spki_sha256(_pki.load_cert(ca_pem))
        print(bootstrap_tokens.join_command(server, token, ca_hash))
    else:
        print(token)
    return 0


def _admin_access(kubeconfig: Path) -> tuple[str, bytes, ssl.SSLContext]:
    """Server, CA and an SSL context with the admin client certificate of ``kubeconfig``."""
    import yaml

    from kubelet_core import _pki

    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "c.crt"), Path(tmp, "c.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        _pki.write_private(key, base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(cert, key)
    return str(cluster["server"]), ca_pem, context


async def _create_token(server: str, context: ssl.SSLContext, ttl: dt.timedelta | None) -> str:
    import aiohttp

    from kubelet_core._controlplane import bootstrap_tokens

    token = bootstrap_tokens.new_token()
    body = bootstrap_tokens.token_secret(token, ttl=ttl, description="wasmlet controlplane token")
    url = f"{server}/api/v1/namespaces/{bootstrap_tokens.NAMESPACE}/secrets"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, ssl=context) as resp,
    ):
        if resp.status != 201:
            text = await resp.text()
            raise SystemExit(f"wasmlet: creating the token failed: {resp.status} {text}")
    return token


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
