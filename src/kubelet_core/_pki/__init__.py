"""Certificates for both sides of the cluster: the one place that builds X.509 objects.

The control plane (its CA, the API server's and admin's certificates, signing CSRs) and
the node (its self-signed serving certificate, the CSRs it sends when bootstrapping)
both build certificates here, so key type, extensions and lifetimes are decided once.
This package sits at the bottom layer: it imports nothing from the rest of wasmlet.
"""

from kubelet_core._pki.bootstrap import UntrustedCA, bootstrap_kubeconfig
from kubelet_core._pki.certs import (
    CLIENT_USAGES,
    KNOWN_USAGES,
    SERVER_USAGES,
    Leaf,
    PrivateKey,
    PublicKey,
    build_csr,
    build_node_client_csr,
    build_node_serving_csr,
    cert_pem,
    csr_pem,
    key_pem,
    load_cert,
    load_csr,
    load_key,
    new_key,
    self_signed_ca,
    sign,
    spki_sha256,
    write_private,
)
from kubelet_core._pki.jws import detached_signature, detached_signature_valid

__all__ = [
    "CLIENT_USAGES",
    "KNOWN_USAGES",
    "SERVER_USAGES",
    "Leaf",
    "PrivateKey",
    "PublicKey",
    "UntrustedCA",
    "bootstrap_kubeconfig",
    "build_csr",
    "build_node_client_csr",
    "build_node_serving_csr",
    "cert_pem",
    "csr_pem",
    "detached_signature",
    "detached_signature_valid",
    "key_pem",
    "load_cert",
    "load_csr",
    "load_key",
    "new_key",
    "self_signed_ca",
    "sign",
    "spki_sha256",
    "write_private",
]
