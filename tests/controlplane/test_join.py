"""Joining as kube-apiserver does: bootstrap tokens, CSRs, node identity, SA tokens."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelet_core import _pki
from kubelet_core._cli import join_cmd
from kubelet_core._cli.errors import UserError
from kubelet_core._controlplane import ControlPlane

from .conftest import Client, add_node, eventually, pod

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


async def call(
    cp: ControlPlane,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str = "",
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    ctx = ssl_context or ssl.create_default_context(cafile=str(cp.pki.ca_cert_path))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, cp.url + path, json=body, ssl=ctx, headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


def csr_body(name: str, pem: bytes, signer: str, usages: list[str], **spec: Any) -> Any:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": signer,
            "usages": usages,
            **spec,
        },
    }


async def issued(client: Client, name: str) -> x509.Certificate:
    async def check() -> Any:
        obj = await client.ok("GET", f"{CSRS}/{name}")
        return obj.get("status", {}).get("certificate")

    pem = base64.b64decode(await eventually(check))
    return x509.load_pem_x509_certificate(pem)


async def test_bootstrap_token_csr_is_auto_approved_and_signed(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    token = await cp.create_bootstrap_token()
    key = _pki.new_key()
    body = csr_body(
        "node-csr-n1",
        _pki.build_node_client_csr("n1", key),
        "kubernetes.io/kube-apiserver-client-kubelet",
        ["digital signature", "client auth"],
        expirationSeconds=3600,
        username="admin",  # claims in the body are replaced by the requester's identity
    )
    status, created = await call(cp, "POST", CSRS, body, token=token)
    assert status == 201, created
    token_id = token.split(".")[0]
    assert created["spec"]["username"] == f"system:bootstrap:{token_id}"
    assert "system:bootstrappers" in created["spec"]["groups"]
    cert = await issued(client, "node-csr-n1")
    cert.verify_directly_issued_by(cp.pki.ca_cert())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < lifetime <= dt.timedelta(hours=1)
    csr = await client.ok("GET", f"{CSRS}/node-csr-n1")
    approved = [c for c in csr["status"]["conditions"] if c["type"] == "Approved"]
    assert approved and approved[0]["reason"] == "AutoApproved"
    # The bootstrap identity may do nothing else.
    status, refused = await call(cp, "GET", "/api/v1/pods", token=token)
    assert status == 403, refused
    assert 'User "system:bootstrap:' in refused["message"]


async def test_expired_or_non_authentication_tokens_get_401(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    expired = await cp.create_bootstrap_token(ttl=dt.timedelta(seconds=-1))
    assert (await call(cp, "GET", CSRS, token=expired))[0] == 401
    token = await cp.create_bootstrap_token()
    secret_name = f"bootstrap-token-{token.split('.')[0]}"
    path = f"/api/v1/namespaces/kube-system/secrets/{secret_name}"
    secret = await client.ok("GET", path)
    del secret["data"]["usage-bootstrap-authentication"]
    await client.ok("PUT", path, secret)
    assert (await call(cp, "GET", CSRS, token=token))[0] == 401
    assert (await call(cp, "GET", CSRS, token="abcdef.0123456789abcdef"))[0] == 401


async def test_serving_csr_waits_for_approval_and_denied_is_never_signed(
    control_plane: ControlPlane, client: Client
) -> None:
    key = _pki.new_key()
    pem = _pki.build_node_serving_csr("n1", ["127.0.0.1"], ["n1"], key)
    usages = ["digital signature", "server auth"]
    await client.ok("POST", CSRS, csr_body("serving", pem, "kubernetes.io/kubelet-serving", usages))
    await client.ok("POST", CSRS, csr_body("denied", pem, "kubernetes.io/kubelet-serving", usages))
    for name, kind in (("denied", "Denied"), ("serving", "Approved")):
        csr = await client.ok("GET", f"{CSRS}/{name}")
        assert "certificate" not in csr["status"]
        csr["status"]["conditions"] = [{"type": kind, "status": "True", "reason": "Test"}]
        await client.ok("PUT", f"{CSRS}/{name}/approval", csr)
    cert = await issued(client, "serving")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1"]
    denied = await client.ok("GET", f"{CSRS}/denied")
    assert "certificate" not in denied["status"]
    denied["status"]["conditions"].append({"type": "Approved", "status": "True"})
    status, _ = await client.put(f"{CSRS}/denied/approval", denied)
    assert status == 422


async def test_a_csr_breaking_its_signers_rules_fails(client: Client) -> None:
    pem = _pki.build_csr(_pki.new_key(), "system:node:n1", ("system:masters",))
    signer = "kubernetes.io/kube-apiserver-client-kubelet"
    await client.ok("POST", CSRS, csr_body("bad", pem, signer, ["client auth"]))
    csr = await client.ok("GET", f"{CSRS}/bad")
    csr["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "Test"}]
    await client.ok("PUT", f"{CSRS}/bad/approval", csr)

    async def failed() -> Any:
        obj = await client.ok("GET", f"{CSRS}/bad")
        return [c for c in obj["status"].get("conditions", []) if c["type"] == "Failed"]

    (condition,) = await eventually(failed)
    assert condition["reason"] == "SignerValidationFailure"
    status, invalid = await client.post(CSRS, csr_body("x", b"nope", signer, ["bogus"]))
    assert status == 422
    fields = {c["field"] for c in invalid["details"]["causes"]}
    assert {"spec.request", "spec.usages[0]"} <= fields


async def test_node_restriction_through_a_node_client_certificate(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    await add_node(client, "n1")
    await add_node(client, "n2")
    pair = cp.pki.issue("n1", "system:node:n1", organizations=("system:nodes",))
    node_ssl = cp.pki.client_ssl_context(pair)
    secret = {"metadata": {"name": "used"}, "data": {"k": "dg=="}}
    await client.ok("POST", "/api/v1/namespaces/default/secrets", secret)
    await client.ok("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "other"}})
    volume = {"name": "s", "secret": {"secretName": "used"}}
    await client.ok(
        "POST", "/api/v1/namespaces/default/pods", pod("mine", nodeName="n1", volumes=[volume])
    )
    await client.ok("POST", "/api/v1/namespaces/default/pods", pod("theirs", nodeName="n2"))
    base = "/api/v1/namespaces/default"
    theirs = await client.ok("GET", f"{base}/pods/theirs")
    status, refused = await call(
        cp, "PUT", f"{base}/pods/theirs/status", theirs, ssl_context=node_ssl
    )
    assert status == 403, refused
    assert (
        "can only update pod status for pods with spec.nodeName set to itself" in refused["message"]
    )
    mine = await client.ok("GET", f"{base}/pods/mine")
    mine["status"]["phase"] = "Running"
    assert (await call(cp, "PUT", f"{base}/pods/mine/status", mine, ssl_context=node_ssl))[0] == 200
    assert (await call(cp, "GET", f"{base}/secrets/used", ssl_context=node_ssl))[0] == 200
    assert (await call(cp, "GET", f"{base}/secrets/other", ssl_context=node_ssl))[0] == 403
    n2 = await client.ok("GET", "/api/v1/nodes/n2")
    assert (await call(cp, "PUT", "/api/v1/nodes/n2/status", n2, ssl_context=node_ssl))[0] == 403
    n1 = await client.ok("GET", "/api/v1/nodes/n1")
    assert (await call(cp, "PUT", "/api/v1/nodes/n1/status", n1, ssl_context=node_ssl))[0] == 200
    # A node renewing its own client certificate is auto-approved (selfnodeclient).
    pem = _pki.build_node_client_csr("n1", _pki.new_key())
    body = csr_body(
        "renew",
        pem,
        "kubernetes.io/kube-apiserver-client-kubelet",
        ["digital signature", "client auth"],
    )
    assert (await call(cp, "POST", CSRS, body, ssl_context=node_ssl))[0] == 201
    await issued(client, "renew")


async def test_service_account_tokens_authenticate_until_the_pod_is_gone(
    control_plane: ControlPlane, client: Client
) -> None:
    cp = control_plane
    created = await client.ok("POST", "/api/v1/namespaces/default/pods", pod("p"))
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"boundObjectRef": {"kind": "Pod", "name": "p", "uid": created["metadata"]["uid"]}},
    }
    answer = await client.ok(
        "POST", "/api/v1/namespaces/default/serviceaccounts/default/token", request
    )
    token = answer["status"]["token"]
    assert (await call(cp, "GET", "/api", token=token))[0] == 200
    assert (await call(cp, "GET", "/api/v1/namespaces/default/secrets", token=token))[0] == 403
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    status = (await client.ok("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review))[
        "status"
    ]
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:default"
    assert set(status["user"]["groups"]) >= {
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    }
    await client.ok("DELETE", "/api/v1/namespaces/default/pods/p")
    assert (await call(cp, "GET", "/api", token=token))[0] == 401
    status = (await client.ok("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review))[
        "status"
    ]
    assert status["authenticated"] is False


async def test_cluster_info_is_public_and_pins_the_ca(control_plane: ControlPlane) -> None:
    cp = control_plane
    status, info = await call(cp, "GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert status == 200
    token = await cp.create_bootstrap_token()
    command = cp.join_command(token)
    pin = command.split("--discovery-token-ca-cert-hash ")[1]
    kubeconfig = _pki.bootstrap_kubeconfig(info["data"]["kubeconfig"], token, pin)
    assert token in kubeconfig
    assert (await call(cp, "GET", "/api/v1/namespaces/kube-public/configmaps"))[0] == 401


async def test_join_discovery_verifies_the_token_signature(control_plane: ControlPlane) -> None:
    """``wasmlet join``'s discovery is kubeadm's: cluster-info is trusted only when its
    JWS for the token id is what the token secret signs it to."""
    cp = control_plane
    token = await cp.create_bootstrap_token()
    pin = cp.pki.ca_cert_hash()
    kubeconfig = await join_cmd.discover(cp.url, token, pin, timeout=5, interval=0.05)
    assert f"token: {token}" in kubeconfig
    token_id = token.split(".")[0]
    wrong = f"{token_id}.{'0' * 16}"
    with pytest.raises(UserError) as refused:
        await join_cmd.discover(cp.url, wrong, pin, timeout=5, interval=0.05)
    assert str(refused.value) == (
        "failed to verify JWS signature of received cluster info object, "
        "can't trust this API Server"
    )
    # A token id the cluster does not know never gets a signature: kubeadm waits for
    # one, then names the token id.
    with pytest.raises(UserError) as unknown:
        await join_cmd.discover(cp.url, "zzzzzz.0123456789abcdef", pin, timeout=0.2, interval=0.05)
    assert str(unknown.value) == (
        'could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"'
    )
    with pytest.raises(UserError, match="cluster CA found in cluster-info ConfigMap is invalid"):
        await join_cmd.discover(cp.url, token, "sha256:" + "0" * 64, timeout=5)


async def test_wasmlet_join_with_a_wrong_token_secret_is_refused(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp = control_plane
    token = await cp.create_bootstrap_token()
    wrong = token.split(".")[0] + ".aaaaaaaaaaaaaaaa"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubelet_core._cli.main", "join", cp.url,
        "--token", wrong, "--discovery-token-ca-cert-hash", cp.pki.ca_cert_hash(),
        "--node-name", "refused", "--data-dir", str(tmp_path / "node"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, stderr
    assert stderr.decode().strip() == (
        "wasmlet: error: failed to verify JWS signature of received cluster info object, "
        "can't trust this API Server"
    )
    assert not (tmp_path / "node" / "nodes" / "refused" / "bootstrap-kubeconfig").exists()
