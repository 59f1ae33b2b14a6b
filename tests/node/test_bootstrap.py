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
import contextlib
import datetime as dt
import random
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelet_core._agent import NodeAgent
from kubelet_core._apiclient import ApiError, KubeApi, KubeObject
from kubelet_core._config import (
    ApiClientConfig,
    IdentityConfig,
    KubeletApiConfig,
    NodeConfig,
    ShutdownConfig,
    StorageConfig,
)
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
from tests.node.scripted import ScriptedProvider

NODE = {"apiVersion": "v1", "kind": "Node"}


def write_bootstrap_kubeconfig(cp: ControlPlane, token: str, path: Path) -> Path:
    ca = base64.b64encode(cp.pki.ca_cert_path.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": cp.url, "certificate-authority-data": ca}}
        ],
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
        await asyncio.wait_for(rotation.scheduled.wait(), 10)
        assert rotation.renew_at is not None
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


async def watch_for_event(api: KubeApi, reason: str, timeout: float = 30.0) -> KubeObject:
    """The first Event with ``reason`` (listed, then watched: no polling)."""

    async def loop() -> KubeObject:
        listing = await api.get("/api/v1/events")
        for item in listing["items"]:
            if item.get("reason") == reason:
                return item
        params = {"resourceVersion": listing["metadata"]["resourceVersion"]}
        async for event in api.watch("/api/v1/events", params=params):
            if event["object"].get("reason") == reason:
                return dict(event["object"])
        raise AssertionError("the event watch ended")

    return await asyncio.wait_for(loop(), timeout)


async def test_a_joined_node_serves_with_its_approved_certificate(
    cp: ControlPlane, api: KubeApi, tmp_path: Path, kubectl: str
) -> None:
    """kubelet's serverTLSBootstrap: self-signed until a person approves the serving
    CSR (the node says how, in an Event), then the issued certificate, no restart."""
    boot = write_bootstrap_kubeconfig(cp, await cp.create_bootstrap_token(), tmp_path / "boot")
    config = NodeConfig(
        identity=IdentityConfig(name="n1"),
        api=ApiClientConfig(bootstrap_kubeconfig=boot),
        kubelet_api=KubeletApiConfig(rotate_server_certificates=True),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        shutdown=ShutdownConfig(keep_pods_on_exit=False),
    )
    async with NodeAgent(ScriptedProvider(), config) as agent:
        assert agent.kubelet_api is not None and agent.serving_certificate is not None
        port = agent.kubelet_api.port
        pending = await watch_for_event(api, "CertificateSigningRequestPending")
        command = pending["message"].rpartition(": ")[2]
        assert command.startswith("kubectl certificate approve csr-")
        csr = await api.get(f"{CSR_PATH}/{command.split()[-1]}")
        assert csr["spec"]["username"] == "system:node:n1"  # the node asks as itself
        assert await served_by_cluster_ca(cp, port) is False  # self-signed meanwhile

        rotated = agent.serving_certificate.rotated
        env = {  # HOME: kubectl's cache stays in the test's directory
            "KUBECONFIG": str(cp.kubeconfig_path),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        }
        approve = await asyncio.create_subprocess_exec(
            kubectl, *command.split()[1:], env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await approve.communicate()
        assert approve.returncode == 0 and b"approved" in out
        await asyncio.wait_for(rotated.wait(), 30)
        assert await served_by_cluster_ca(cp, port) is True


async def served_by_cluster_ca(cp: ControlPlane, port: int) -> bool:
    """Whether a new TLS connection to the kubelet API verifies against the cluster CA."""
    import ssl

    context = ssl.create_default_context(cafile=str(cp.pki.ca_cert_path))
    context.check_hostname = False
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except ssl.SSLCertVerificationError:
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


def test_an_embedded_expired_client_certificate_is_not_usable(tmp_path: Path) -> None:
    """kubelet bootstraps again when the kubeconfig's certificate expired, embedded too."""
    from kubelet_core._node.certificates import kubeconfig_usable
    from kubelet_core._pki import Leaf, cert_pem, self_signed_ca, sign

    ca_key = new_key()
    ca = self_signed_ca(ca_key, "ca")

    def kubeconfig(lifetime: dt.timedelta) -> Path:
        cert = sign(Leaf("system:node:n1", lifetime=lifetime), new_key().public_key(), ca_key, ca)
        data = base64.b64encode(cert_pem(cert)).decode()
        path = tmp_path / f"kubeconfig-{lifetime.total_seconds():.0f}"
        path.write_text(
            yaml.safe_dump(
                {
                    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                    "users": [{"name": "u", "user": {"client-certificate-data": data}}],
                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "x",
                }
            )
        )
        return path

    assert kubeconfig_usable(kubeconfig(dt.timedelta(hours=1)))
    assert not kubeconfig_usable(kubeconfig(dt.timedelta(seconds=-100)))
