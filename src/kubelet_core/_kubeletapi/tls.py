"""The kubelet API's TLS: its serving certificate and the server-side SSL context.

Like kubelet without ``--tls-cert-file``, the server makes itself a self-signed
certificate on first start (``kubelet.crt``/``kubelet.key`` in the cert dir,
with the node name and IP as subject alternative names) and reuses it on every
restart while it is valid and still names the node, so clients that pinned it
keep working.

Client certificates are *requested* (``CERT_OPTIONAL``), not required: bearer
tokens and anonymous requests must still reach the handler, which decides.  A
presented certificate is verified during the handshake against the client CA,
so one from another CA never gets as far as a request.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelet_core import _pki

#: Validity of a generated serving certificate (kubelet's self-signed one lasts a year).
SELF_SIGNED_VALIDITY = datetime.timedelta(days=365)


def _alt_names(node_name: str, host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    addresses = {ipaddress.ip_address("127.0.0.1")}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host and host != node_name:
            names.append(x509.DNSName(host))
    else:
        if not address.is_unspecified:
            addresses.add(address)
    names.extend(x509.IPAddress(a) for a in sorted(addresses, key=str))
    return names


def _still_good(cert_file: Path, wanted: list[x509.GeneralName]) -> bool:
    """Valid for another day and naming every wanted name (the node IP may have changed)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc - now <= datetime.timedelta(days=1):
        return False
    return all(name in names for name in wanted)


def ensure_self_signed(cert_dir: Path, node_name: str, host: str) -> tuple[Path, Path]:
    """Return ``(cert, key)`` in ``cert_dir``, generating them unless valid ones exist."""
    cert_file, key_file = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
    alt_names = _alt_names(node_name, host)
    if key_file.exists() and _still_good(cert_file, alt_names):
        return cert_file, key_file
    cert_dir.mkdir(parents=True, exist_ok=True)
    key = _pki.new_key()
    now = datetime.datetime.now(datetime.UTC)
    dns = tuple(str(n.value) for n in alt_names if isinstance(n, x509.DNSName))
    ips = tuple(str(n.value) for n in alt_names if isinstance(n, x509.IPAddress))
    leaf = _pki.Leaf(
        f"{node_name}@{int(now.timestamp())}",
        usages=("digital signature", "key encipherment", "server auth"),
        dns_names=dns,
        ip_addresses=ips,
        lifetime=SELF_SIGNED_VALIDITY,
    )
    cert = _pki.sign(leaf, key.public_key(), key)
    # Write the key first, readable by the owner only, then the certificate that names it.
    _pki.write_private(key_file, _pki.key_pem(key))
    cert_file.write_bytes(_pki.cert_pem(cert))
    return cert_file, key_file


def server_context(cert_file: Path, key_file: Path, client_ca_file: Path | None) -> ssl.SSLContext:
    """TLS 1.2+; client certificates requested and verified when a client CA is given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=str(client_ca_file))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_identity(der: bytes) -> tuple[str, list[str]]:
    """User name (subject CN) and groups (subject O values) of a client certificate."""
    cert = x509.load_der_x509_certificate(der)
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    user = str(common[0].value) if common else ""
    return user, [str(o.value) for o in orgs]


def client_ca_from_kubeconfig(kubeconfig: Path, directory: Path) -> Path | None:
    """The cluster CA of a kubeconfig's current context, as a file (None if it names none).

    Kubelets usually trust client certificates signed by the cluster CA
    (``--client-ca-file``), the same CA the kubeconfig trusts for the API server:
    so the control plane's kubelet-client and admin certificates are accepted.
    """
    config = yaml.safe_load(kubeconfig.read_text()) or {}
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or ()}
    context = contexts.get(config.get("current-context"), {})
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or ()}
    cluster = clusters.get(context.get("cluster"), {})
    if cluster.get("certificate-authority-data"):
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "client-ca.crt"
        target.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        return target
    if cluster.get("certificate-authority"):
        path = Path(cluster["certificate-authority"])
        return path if path.is_absolute() else kubeconfig.parent / path
    return None
