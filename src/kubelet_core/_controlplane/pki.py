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
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]
from cryptography import x509

from kubelet_core import _pki

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class CertPair:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()


def write_file(path: Path, data: bytes, private: bool = False) -> None:
    """Write a file; a private key is created 0600, so it is never readable by others."""
    if private:
        _pki.write_private(path, data)
    else:
        path.write_bytes(data)


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
        key = _pki.new_key()
        cert = _pki.self_signed_ca(key, "wasmlet-ca", _VALIDITY)
        write_file(self.ca.key_path, _pki.key_pem(key), private=True)
        write_file(self.ca.cert_path, _pki.cert_pem(cert))

    def ca_cert(self) -> x509.Certificate:
        self.ensure_ca()
        return _pki.load_cert(self.ca.cert_pem())

    def ca_cert_hash(self) -> str:
        """``sha256:<hex>`` of the CA's public key: what a joining node pins."""
        return _pki.spki_sha256(self.ca_cert())

    def sign(
        self,
        leaf: _pki.Leaf,
        public_key: _pki.PublicKey,
        *,
        subject: x509.Name | None = None,
        validity: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> x509.Certificate:
        """Sign ``public_key`` with the cluster CA (certificates for CSRs and our own pairs)."""
        ca_key = _pki.load_key(self.ca.key_pem())
        return _pki.sign(
            leaf, public_key, ca_key, self.ca_cert(), subject=subject, validity=validity
        )

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
        usages = ["digital signature"]
        if client:
            usages.append("client auth")
        if server_names:
            usages.append("server auth")
        dns, ips = _pki.Leaf.split_names(server_names)
        leaf = _pki.Leaf(common_name, organizations, tuple(usages), dns, ips, _VALIDITY)
        key = _pki.new_key()
        cert = self.sign(leaf, key.public_key())
        write_file(pair.key_path, _pki.key_pem(key), private=True)
        write_file(pair.cert_path, _pki.cert_pem(cert))
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
        cert = _pki.load_cert(pair.cert_pem())
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
