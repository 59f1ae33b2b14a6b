"""kube-controller-manager's bootstrapsigner and tokencleaner on the embedded control plane.

cluster-info gains ``jws-kubeconfig-<id>`` for each token that may sign, loses it when
the token goes (deleted, stripped of ``usage-bootstrap-signing``, or expired: the
token cleaner deletes it when a ManualClock is moved past its expiration).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from kubelet_core._controlplane import ControlPlane
from kubelet_core._controlplane.clock import ManualClock
from tests.controlplane.conftest import Client, eventually

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SECRETS = "/api/v1/namespaces/kube-system/secrets"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[ControlPlane, Client, ManualClock]]:
    clock = ManualClock()
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False, clock=clock) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield cp, Client(cp, session), clock


async def signatures(client: Client) -> dict[str, str]:
    data = (await client.ok("GET", CLUSTER_INFO))["data"]
    return {k: v for k, v in data.items() if k.startswith("jws-kubeconfig-")}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_each_signing_token_signs_the_kubeconfig(
    env: tuple[ControlPlane, Client, ManualClock],
) -> None:
    cp, client, _ = env
    token = await cp.create_bootstrap_token()
    token_id, secret = token.split(".")
    sigs = await eventually(lambda: signatures(client))
    assert list(sigs) == [f"jws-kubeconfig-{token_id}"]
    header, payload, mac = sigs[f"jws-kubeconfig-{token_id}"].split(".")
    # RFC 7515 Appendix F: the payload is left out; HS256 with the token id as kid.
    assert payload == ""
    # kubeadm compares whole strings, so the header must be go-jose's bytes exactly.
    assert (
        base64.urlsafe_b64decode(header + "==") == f'{{"alg":"HS256","kid":"{token_id}"}}'.encode()
    )
    content = (await client.ok("GET", CLUSTER_INFO))["data"]["kubeconfig"]
    check = HMAC(secret.encode().ljust(32, b"\0"), hashes.SHA256())
    check.update(f"{header}.{b64url(content.encode())}".encode())
    assert mac == b64url(check.finalize())
    # Two tokens, two signatures; deleting one removes its signature only.
    other = await cp.create_bootstrap_token()
    other_id = other.split(".")[0]

    async def both() -> bool:
        return set(await signatures(client)) == {
            f"jws-kubeconfig-{token_id}",
            f"jws-kubeconfig-{other_id}",
        }

    await eventually(both)
    await client.ok("DELETE", f"{SECRETS}/bootstrap-token-{token_id}")

    async def only_other() -> bool:
        return list(await signatures(client)) == [f"jws-kubeconfig-{other_id}"]

    await eventually(only_other)


async def test_tokens_unfit_for_signing_sign_nothing(
    env: tuple[ControlPlane, Client, ManualClock],
) -> None:
    cp, client, _ = env
    token = await cp.create_bootstrap_token()
    token_id = token.split(".")[0]
    await eventually(lambda: signatures(client))
    path = f"{SECRETS}/bootstrap-token-{token_id}"
    secret = await client.ok("GET", path)
    secret["data"]["usage-bootstrap-signing"] = base64.b64encode(b"false").decode()
    await client.ok("PUT", path, secret)

    async def unsigned() -> bool:
        return await signatures(client) == {}

    await eventually(unsigned)
    # A Secret whose name does not carry its token-id never signs.
    misnamed = {
        "metadata": {"name": "bootstrap-token-zzzzzz"},
        "type": "bootstrap.kubernetes.io/token",
        "data": {
            "token-id": base64.b64encode(b"abcdef").decode(),
            "token-secret": base64.b64encode(b"0123456789abcdef").decode(),
            "usage-bootstrap-signing": base64.b64encode(b"true").decode(),
        },
    }
    await client.ok("POST", SECRETS, misnamed)
    secret = await client.ok("GET", path)
    secret["data"]["usage-bootstrap-signing"] = base64.b64encode(b"true").decode()
    await client.ok("PUT", path, secret)  # a later event: the signer has seen both
    await eventually(lambda: signatures(client))
    assert list(await signatures(client)) == [f"jws-kubeconfig-{token_id}"]


async def test_an_expired_token_is_deleted_and_its_signature_removed(
    env: tuple[ControlPlane, Client, ManualClock],
) -> None:
    cp, client, clock = env
    lasting = await cp.create_bootstrap_token(ttl=None)
    token = await cp.create_bootstrap_token(ttl=dt.timedelta(hours=1))
    token_id, lasting_id = token.split(".")[0], lasting.split(".")[0]

    async def both() -> bool:
        return len(await signatures(client)) == 2

    await eventually(both)
    clock.advance(1800)
    assert (await client.get(f"{SECRETS}/bootstrap-token-{token_id}"))[0] == 200
    clock.advance(1801)

    async def gone() -> Any:
        status, _ = await client.get(f"{SECRETS}/bootstrap-token-{token_id}")
        return status == 404 and list(await signatures(client)) == [f"jws-kubeconfig-{lasting_id}"]

    await eventually(gone)
    assert await cp.authenticate_token(token) is None
    assert await cp.authenticate_token(lasting) is not None
