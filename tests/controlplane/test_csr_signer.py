"""The CSR signer's validity window is kube-controller-manager's.

NotBefore is now minus five minutes; NotAfter is now plus the TTL, minus the same five
minutes unless the TTL is under eight hours; the TTL is ``spec.expirationSeconds``
capped by ``--cluster-signing-duration``; NotAfter never passes the CA's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from kubelet_core import _pki
from kubelet_core._controlplane import ControlPlane

from .conftest import Client
from .test_join import CSRS, csr_body, issued

MINUTE = dt.timedelta(minutes=1)
SIGNER = "kubernetes.io/kube-apiserver-client"


@pytest.fixture
async def nine_hour_signer(tmp_path: Path) -> AsyncIterator[Client]:
    """A control plane whose --cluster-signing-duration is nine hours."""
    async with (
        ControlPlane(tmp_path / "cp", csr_max_duration=dt.timedelta(hours=9)) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Client(cp, session)


async def signed(client: Client, name: str, **spec: Any) -> tuple[dt.datetime, x509.Certificate]:
    """Create a client CSR, approve it as an admin would; the time asked and the cert."""
    pem = _pki.build_csr(_pki.new_key(), name)
    body = csr_body(name, pem, SIGNER, ["digital signature", "client auth"], **spec)
    asked = dt.datetime.now(dt.UTC)
    csr = await client.ok("POST", CSRS, body)
    csr["status"] = {
        "conditions": [
            {"type": "Approved", "status": "True", "reason": "Test", "message": "approved"}
        ]
    }
    await client.ok("PUT", f"{CSRS}/{name}/approval", csr)
    return asked, await issued(client, name)


def assert_close(actual: dt.datetime, expected: dt.datetime) -> None:
    """Certificates carry whole seconds; the signer ran within moments of the request."""
    assert abs(actual - expected) < dt.timedelta(seconds=5), (actual, expected)


@pytest.mark.parametrize(
    ("expiration_seconds", "expected_span"),
    [
        # short-lived (under 8 h): NotAfter is not backdated
        (3600, dt.timedelta(hours=1) + 5 * MINUTE),
        (8 * 3600 - 1, dt.timedelta(hours=8, seconds=-1) + 5 * MINUTE),
        # 8 h and longer: NotAfter is backdated like NotBefore
        (8 * 3600, dt.timedelta(hours=8)),
        # capped by --cluster-signing-duration (9 h here)
        (10 * 3600, dt.timedelta(hours=9)),
        (None, dt.timedelta(hours=9)),
    ],
)
async def test_validity_window(
    nine_hour_signer: Client, expiration_seconds: int | None, expected_span: dt.timedelta
) -> None:
    spec = {} if expiration_seconds is None else {"expirationSeconds": expiration_seconds}
    asked, cert = await signed(nine_hour_signer, "alice", **spec)
    assert_close(cert.not_valid_before_utc, asked - 5 * MINUTE)
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(span - expected_span) <= dt.timedelta(seconds=1), span


async def test_not_after_stops_at_the_cas(tmp_path: Path) -> None:
    async with (
        ControlPlane(tmp_path / "cp", csr_max_duration=dt.timedelta(days=365 * 30)) as cp,
        aiohttp.ClientSession() as session,
    ):
        _asked, cert = await signed(Client(cp, session), "bob")
        assert cert.not_valid_after_utc == cp.pki.ca_cert().not_valid_after_utc
