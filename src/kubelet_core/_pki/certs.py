"""Keys, certificates and certificate signing requests, built one way.

Keys are ECDSA P-256 (fast to generate and to handshake with). Usages are named the way
Kubernetes names them in a CertificateSigningRequest (``"digital signature"``,
``"client auth"``...), so a CSR's ``spec.usages`` can be signed as they are written.
Every certificate is backdated five minutes for clock skew, as kube's signer does, and
never outlives its issuer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

BACKDATE = dt.timedelta(minutes=5)
CA_LIFETIME = dt.timedelta(days=3650)
#: What a TLS client certificate needs (kube-apiserver-client, kubelet client).
CLIENT_USAGES = ("digital signature", "key encipherment", "client auth")
#: What a TLS serving certificate needs (kubelet-serving, the API server's own).
SERVER_USAGES = ("digital signature", "key encipherment", "server auth")

_KEY_USAGES = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
_EXT_KEY_USAGES = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}
#: Every usage name a CertificateSigningRequest may carry.
KNOWN_USAGES = frozenset(_KEY_USAGES) | frozenset(_EXT_KEY_USAGES)


@dataclass(frozen=True)
class Leaf:
    """What a signed certificate says about its holder."""

    common_name: str
    organizations: tuple[str, ...] = ()
    usages: tuple[str, ...] = CLIENT_USAGES
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    lifetime: dt.timedelta = dt.timedelta(days=365)

    @staticmethod
    def split_names(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(dns_names, ip_addresses)`` of a mixed list of host names and addresses."""
        dns: list[str] = []
        ips: list[str] = []
        for entry in names:
            try:
                ips.append(str(ipaddress.ip_address(entry)))
            except ValueError:
                dns.append(entry)
        return tuple(dns), tuple(ips)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def load_cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr(pem)


def write_private(path: Path, data: bytes) -> None:
    """Write a private key 0600 (also when the file existed with a looser mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def spki_sha256(cert: x509.Certificate) -> str:
    """``sha256:<hex>`` of the certificate's SubjectPublicKeyInfo (kubeadm's CA pin)."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(usages: Iterable[str]) -> x509.KeyUsage:
    flags = dict.fromkeys(set(_KEY_USAGES.values()), False)
    for usage in usages:
        if usage in _KEY_USAGES:
            flags[_KEY_USAGES[usage]] = True
    return x509.KeyUsage(**flags)


def _sans(dns_names: Iterable[str], ip_addresses: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    return names


def self_signed_ca(
    key: PrivateKey, common_name: str, lifetime: dt.timedelta = CA_LIFETIME
) -> x509.Certificate:
    """A CA certificate for ``key``: may sign certificates (and CRLs), nothing else."""
    name = _name(common_name)
    start = dt.datetime.now(dt.UTC) - BACKDATE
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(("digital signature", "cert sign", "crl sign")), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def sign(
    leaf: Leaf,
    public_key: PublicKey,
    issuer_key: PrivateKey,
    issuer: x509.Certificate | None = None,
    *,
    subject: x509.Name | None = None,
    validity: tuple[dt.datetime, dt.datetime] | None = None,
) -> x509.Certificate:
    """A certificate for ``public_key`` saying ``leaf``, signed by ``issuer`` (or self-signed).

    ``subject`` overrides the name built from ``leaf`` (a CSR's subject is signed verbatim);
    ``validity`` (NotBefore, NotAfter) overrides the window built from ``leaf.lifetime``.
    """
    subject = subject or _name(leaf.common_name, leaf.organizations)
    start = dt.datetime.now(dt.UTC) - BACKDATE
    end = start + BACKDATE + leaf.lifetime
    if issuer is not None:
        end = min(end, issuer.not_valid_after_utc)
    if validity is not None:
        start, end = validity
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if any(u in _KEY_USAGES for u in leaf.usages):
        builder = builder.add_extension(_key_usage(leaf.usages), critical=True)
    extended = [_EXT_KEY_USAGES[u] for u in dict.fromkeys(leaf.usages) if u in _EXT_KEY_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    sans = _sans(leaf.dns_names, leaf.ip_addresses)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def build_csr(
    key: PrivateKey,
    common_name: str,
    organizations: Iterable[str] = (),
    *,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
) -> bytes:
    """A PEM certificate signing request for ``key`` (the CSR's ``spec.request``)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        _name(common_name, organizations)
    )
    sans = _sans(dns_names, ip_addresses)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return csr_pem(builder.sign(key, hashes.SHA256()))


def build_node_client_csr(node_name: str, key: PrivateKey) -> bytes:
    """The CSR a kubelet sends for its client certificate (signer kube-apiserver-client-kubelet)."""
    return build_csr(key, f"system:node:{node_name}", ("system:nodes",))


def build_node_serving_csr(
    node_name: str, ips: Iterable[str], dns: Iterable[str], key: PrivateKey
) -> bytes:
    """The CSR a kubelet sends for its serving certificate (signer kubelet-serving)."""
    return build_csr(
        key, f"system:node:{node_name}", ("system:nodes",), dns_names=dns, ip_addresses=ips
    )
