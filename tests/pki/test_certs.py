"""The one certificate builder: CA, leaves with Kubernetes usage names, node CSRs."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelet_core import _pki


def test_leaf_chains_to_its_ca_with_the_requested_usages_and_names() -> None:
    ca_key = _pki.new_key()
    ca = _pki.self_signed_ca(ca_key, "test-ca")
    key = _pki.new_key()
    leaf = _pki.Leaf(
        "system:node:n1",
        ("system:nodes",),
        _pki.SERVER_USAGES,
        dns_names=("n1",),
        ip_addresses=("127.0.0.1",),
        lifetime=dt.timedelta(hours=1),
    )
    cert = _pki.sign(leaf, key.public_key(), ca_key, ca)
    cert.verify_directly_issued_by(ca)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == dt.timedelta(hours=1) + _pki.certs.BACKDATE


def test_a_leaf_never_outlives_its_ca() -> None:
    ca_key = _pki.new_key()
    ca = _pki.self_signed_ca(ca_key, "short-ca", dt.timedelta(days=1))
    leaf = _pki.Leaf("someone", lifetime=dt.timedelta(days=30))
    cert = _pki.sign(leaf, _pki.new_key().public_key(), ca_key, ca)
    assert cert.not_valid_after_utc == ca.not_valid_after_utc


def test_node_csrs_name_the_node_identity() -> None:
    key = _pki.new_key()
    client = _pki.load_csr(_pki.build_node_client_csr("n1", key))
    assert client.is_signature_valid
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    orgs = client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:nodes"]
    serving = _pki.load_csr(_pki.build_node_serving_csr("n1", ["10.0.0.5"], ["n1.local"], key))
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1.local"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]


def test_ca_pin_is_the_sha256_of_the_subject_public_key_info() -> None:
    key = _pki.new_key()
    ca = _pki.self_signed_ca(key, "pinned")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert _pki.spki_sha256(ca) == "sha256:" + hashlib.sha256(der).hexdigest()
