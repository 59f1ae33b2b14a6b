"""TLS bootstrap and certificate rotation against the embedded control plane.

Expectations from kubelet's documented behaviour (TLS bootstrapping,
certificate rotation): a bootstrap token yields a client certificate for
``system:node:<name>`` through an auto-approved CSR; valid credentials are
reused on restart; renewal comes 70-90 % into a certificate's lifetime; a
denied request or a rejected token ends in one clear message.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelet_core._apiclient import ApiError, KubeApi
from kubelet_core._controlplane import ControlPlane
from kubelet_core._node.bootstrap import CLIENT_USAGES, bootstrap_client_certificate
from kubelet_core._node.certificates import (
    CLIENT_SIGNER,
    CSR_PATH,
    SERVING_SIGNER,
    CertificateError,
    CertificateFiles,
    renewal_time,
    request_certificate,
)
from kubelet_core._node.rotation import CertificateRotation
from kubelet_core._pki import build_node_client_csr, build_node_serving_csr, new_key

NODE = {"apiVersion": "v1", "kind": "Node"}


def write_bootstrap_kubeconfig(cp: ControlPlane, token: str, path: Path) -> Path:
    ca = base64.b64encode(cp.pki.ca_cert_path.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": cp.url, "certificate-authority-data": ca}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def csr_count(api: KubeApi) -> int:
    return len((await api.get(CSR_PATH))["items"])


def subject(path: Path) -> tuple[str, str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    return str(cn), str(org)


async def test_a_bootstrap_token_becomes_the_node_identity_and_is_reused(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    boot = write_bootstrap_kubeconfig(cp, await cp.create_bootstrap_token(), tmp_path / "boot")
    kubeconfig, pki = tmp_path / "kubelet.conf", tmp_path / "pki"

    assert await bootstrap_client_certificate(
        "n1", kubeconfig=kubeconfig, bootstrap_kubeconfig=boot, pki_dir=pki
    )
    current = pki / "kubelet-client-current.pem"
    assert current.is_symlink()
    assert stat.S_IMODE(current.resolve().stat().st_mode) == 0o600
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert subject(current) == ("system:node:n1", "system:nodes")

    async with await KubeApi.from_kubeconfig(kubeconfig) as node_api:
        await node_api.create("/api/v1/nodes", {**NODE, "metadata": {"name": "n1"}})
        with pytest.raises(ApiError) as refused:  # NodeRestriction: only its own Node
            await node_api.create("/api/v1/nodes", {**NODE, "metadata": {"name": "n2"}})
        assert refused.value.status == 403

    requests = await csr_count(api)
    assert requests == 1
    # A restart with valid credentials asks nothing.
    assert not await bootstrap_client_certificate(
        "n1", kubeconfig=kubeconfig, bootstrap_kubeconfig=boot, pki_dir=pki
    )
    # A lost kubeconfig is written again from the still valid certificate.
    kubeconfig.unlink()
    assert await bootstrap_client_certificate(
        "n1", kubeconfig=kubeconfig, bootstrap_kubeconfig=boot, pki_dir=pki
    )
    assert await csr_count(api) == requests


async def test_an_expired_token_is_one_clear_message(cp: ControlPlane, tmp_path: Path) -> None:
    token = await cp.create_bootstrap_token(ttl=dt.timedelta(seconds=-60))
    boot = write_bootstrap_kubeconfig(cp, token, tmp_path / "boot")
    with pytest.raises(CertificateError, match=r"rejected the bootstrap credentials \(401"):
        await bootstrap_client_certificate(
            "n1", kubeconfig=tmp_path / "kubelet.conf", bootstrap_kubeconfig=boot, pki_dir=tmp_path
        )


async def test_no_kubeconfig_and_no_bootstrap_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="no --bootstrap-kubeconfig"):
        await bootstrap_client_certificate(
            "n1", kubeconfig=tmp_path / "kubelet.conf", bootstrap_kubeconfig=None, pki_dir=tmp_path
        )


async def node_identity(cp: ControlPlane, tmp_path: Path, name: str = "n1") -> KubeApi:
    boot = write_bootstrap_kubeconfig(cp, await cp.create_bootstrap_token(), tmp_path / "boot")
    kubeconfig = tmp_path / "kubelet.conf"
    await bootstrap_client_certificate(
        name, kubeconfig=kubeconfig, bootstrap_kubeconfig=boot, pki_dir=tmp_path / "pki"
    )
    return await KubeApi.from_kubeconfig(kubeconfig)


async def set_approval(api: KubeApi, name: str, kind: str) -> None:
    csr = await api.get(f"{CSR_PATH}/{name}")
    csr.setdefault("status", {})["conditions"] = [
        {"type": kind, "status": "True", "reason": "ByTest", "message": f"{kind} by the test"}
    ]
    await api.replace(f"{CSR_PATH}/{name}/approval", csr)


async def test_a_serving_request_waits_says_so_again_and_is_issued_once_approved(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    node_api = await node_identity(cp, tmp_path)
    reminders: list[str] = []

    async def pending(name: str) -> None:
        reminders.append(name)
        if len(reminders) == 3:  # said so three times: now a person approves
            await set_approval(api, name, "Approved")

    try:
        pem = await request_certificate(
            node_api,
            build_node_serving_csr("n1", ["127.0.0.1"], ["n1"], new_key()),
            signer=SERVING_SIGNER,
            usages=("digital signature", "server auth"),
            on_pending=pending,
            reminder_seconds=0.05,
        )
    finally:
        await node_api.close()
    assert len(set(reminders)) == 1 and len(reminders) >= 3
    cert = x509.load_pem_x509_certificate(pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["n1"]


async def test_a_denied_request_is_one_clear_message(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    node_api = await node_identity(cp, tmp_path)

    async def deny(name: str) -> None:
        await set_approval(api, name, "Denied")

    try:
        with pytest.raises(CertificateError, match=r"csr-\w+ was denied \(ByTest: Denied by"):
            await request_certificate(
                node_api,
                build_node_serving_csr("n1", ["127.0.0.1"], [], new_key()),
                signer=SERVING_SIGNER,
                usages=("digital signature", "server auth"),
                on_pending=deny,
            )
    finally:
        await node_api.close()


def test_renewal_comes_70_to_90_percent_into_the_lifetime(tmp_path: Path) -> None:
    from kubelet_core._pki import Leaf, self_signed_ca, sign

    ca_key = new_key()
    ca = self_signed_ca(ca_key, "ca")
    cert = sign(Leaf("n", lifetime=dt.timedelta(hours=10)), new_key().public_key(), ca_key, ca)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    times = [renewal_time(cert, random.Random(seed)) for seed in range(200)]
    fractions = [(t - start) / (end - start) for t in times]
    assert 0.7 <= min(fractions) < 0.72 and 0.88 < max(fractions) <= 0.9


async def test_rotation_renews_before_expiry_and_switches_without_losing_requests(
    cp: ControlPlane, api: KubeApi, tmp_path: Path
) -> None:
    node_api = await node_identity(cp, tmp_path)
    files = CertificateFiles(tmp_path / "pki", "client")
    first = files.load()
    assert first is not None
    switched: list[Path] = []

    def on_rotated(path: Path) -> None:
        node_api.use_client_certificate(path)
        switched.append(path.resolve())

    async def request(key: Any) -> bytes:
        return await request_certificate(
            node_api, build_node_client_csr("n1", key), signer=CLIENT_SIGNER, usages=CLIENT_USAGES
        )

    now = [dt.datetime.now(dt.UTC)]

    def clock() -> dt.datetime:
        # Moved forward until the renewal; the new certificate lives in real time.
        return now[0] if rotation.rotations == 0 else dt.datetime.now(dt.UTC)

    rotation = CertificateRotation(files, request, on_rotated, clock=clock)
    stopping = asyncio.Event()
    task = asyncio.create_task(rotation.run(stopping))
    try:
        rotated = rotation.rotated
        # Not yet due: the rotation computes its deadline and waits.
        while rotation.renew_at is None:
            await asyncio.sleep(0)
        assert rotation.renew_at > now[0] and rotation.rotations == 0
        # Time passes (the clock is ours): past the deadline it renews, while requests
        # keep flowing through the same client.
        now[0] = rotation.renew_at + dt.timedelta(seconds=1)
        rotation.wake()
        load = [node_api.get("/api/v1/nodes/n1") for _ in range(20)]
        results = await asyncio.gather(*load, rotated.wait(), return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException) and not _not_found(r)]
    finally:
        stopping.set()
        await task
        await node_api.close()
    second = files.load()
    assert rotation.rotations == 1 and second is not None
    assert second.serial_number != first.serial_number
    assert switched == [files.current.resolve()]
    assert subject(files.current) == ("system:node:n1", "system:nodes")
    # The new certificate authenticates a fresh client too (the link was flipped).
    async with await KubeApi.from_kubeconfig(tmp_path / "kubelet.conf") as fresh:
        await fresh.create("/api/v1/nodes", {**NODE, "metadata": {"name": "n1"}})


def _not_found(error: BaseException) -> bool:
    return isinstance(error, ApiError) and error.status == 404
