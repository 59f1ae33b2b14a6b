"""The control plane's certificate authority and the certificates it signs.

A CA is generated once per data directory (pki/ca.crt, pki/ca.key) and reused on every
restart, so kubeconfigs and kubelet certificates issued earlier keep working. The API
server's serving certificate and the admin client certificate (CN=admin,
O=system:masters) are signed by it; ``issue`` signs further client or serving
certificates (kubelets) with the same CA. EC P-256 keys keep generation and handshakes fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class CertPair:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_file(path: Path, data: bytes, private: bool = False) -> None:
    """Write a file; a private key is created 0600, so it is never readable by others."""
    if not private:
        path.write_bytes(data)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "wb") as out:
        out.write(data)


class PKI:
    """Files under ``<data_dir>/pki``; everything is created on first use and then reused."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = CertPair(directory / "ca.crt", directory / "ca.key")

    @property
    def ca_cert_path(self) -> Path:
        return self.ca.cert_path

    @property
    def ca_key_path(self) -> Path:
        return self.ca.key_path

    def ensure_ca(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.ca.cert_path.exists() and self.ca.key_path.exists():
            return
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name("wasmlet-ca")
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        write_file(self.ca.key_path, _key_pem(key), private=True)
        write_file(self.ca.cert_path, cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        server_names: tuple[str, ...] = (),
        client: bool = True,
        reuse: bool = True,
    ) -> CertPair:
        """Sign a certificate into pki/<stem>.crt and .key (client and/or serving)."""
        self.ensure_ca()
        pair = CertPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        if reuse and pair.cert_path.exists() and pair.key_path.exists():
            return pair
        ca_key = serialization.load_pem_private_key(self.ca.key_pem(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate(self.ca.cert_pem())
        key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        usages = []
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if server_names:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organizations))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if server_names:
            sans: list[x509.GeneralName] = []
            for entry in server_names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(entry)))
                except ValueError:
                    sans.append(x509.DNSName(entry))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        write_file(pair.key_path, _key_pem(key), private=True)
        write_file(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return pair

    def server_pair(self, host: str) -> CertPair:
        names = tuple(
            dict.fromkeys(
                (
                    "127.0.0.1",
                    "localhost",
                    socket.gethostname(),
                    host,
                    "kubernetes",
                    "kubernetes.default",
                )
            )
        )
        pair = self.issue("apiserver", "kube-apiserver", server_names=names, client=False)
        # Reissue if the host was not covered by an earlier certificate.
        cert = x509.load_pem_x509_certificate(pair.cert_pem())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        covered = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
            san.get_values_for_type(x509.DNSName)
        )
        if host not in covered:
            pair = self.issue(
                "apiserver", "kube-apiserver", server_names=names, client=False, reuse=False
            )
        return pair

    def admin_pair(self) -> CertPair:
        return self.issue("admin", "admin", organizations=("system:masters",))

    def server_ssl_context(self, host: str) -> ssl.SSLContext:
        pair = self.server_pair(host)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca.cert_path))
        ctx.load_cert_chain(str(pair.cert_path), str(pair.key_path))
        # Optional: requests without a certificate reach the server and get 401 there
        # (room for bearer tokens later); a certificate not signed by our CA fails the
        # handshake.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def client_ssl_context(self, pair: CertPair | None = None) -> ssl.SSLContext:
        """An SSL context trusting the CA and presenting ``pair`` (admin by default)."""
        pair = pair or self.admin_pair()
        ctx = ssl.create_default_context(cafile=str(self.ca.cert_path))
        ctx.load_cert_chain(str(pair.cert_path), str(pair.key_path))
        return ctx


def kubeconfig(
    server: str,
    ca_pem: bytes,
    cert_pem: bytes,
    key_pem: bytes,
    user: str = "admin",
    cluster: str = "wasmlet",
) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
            }
        ],
        "contexts": [
            {"name": cluster, "context": {"cluster": cluster, "user": user, "namespace": "default"}}
        ],
        "current-context": cluster,
        "preferences": {},
    }
    text: str = yaml.safe_dump(doc, sort_keys=False)
    return text
