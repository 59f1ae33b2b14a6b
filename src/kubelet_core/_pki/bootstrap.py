"""The node's half of joining: trust the CA from ``cluster-info`` only if it matches the pin.

``wasmlet join <server> --token <id.secret> --discovery-token-ca-cert-hash
sha256:<hex>`` fetches ``GET <server>/api/v1/namespaces/kube-public/configmaps/cluster-info``
without verifying TLS (it has nothing to verify with yet), then calls
:func:`bootstrap_kubeconfig` with the ConfigMap's ``data.kubeconfig``: the CA in it must
hash to the pin, and the result is a kubeconfig that trusts that CA and authenticates
with the bootstrap token, ready for the CSR flow (``build_node_client_csr``).
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from kubelet_core._pki.certs import load_cert, spki_sha256


class UntrustedCA(ValueError):
    """The cluster-info CA does not match the pinned hash."""


def bootstrap_kubeconfig(cluster_info_kubeconfig: str, token: str, ca_cert_hash: str) -> str:
    config: dict[str, Any] = yaml.safe_load(cluster_info_kubeconfig) or {}
    clusters = config.get("clusters") or []
    if not clusters:
        raise UntrustedCA("cluster-info names no cluster")
    cluster = clusters[0].get("cluster") or {}
    ca_pem = base64.b64decode(cluster.get("certificate-authority-data") or "")
    actual = spki_sha256(load_cert(ca_pem))
    if not hmac.compare_digest(actual, ca_cert_hash.lower()):
        raise UntrustedCA(f"the cluster CA hashes to {actual}, not the pinned {ca_cert_hash}")
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bootstrap", "cluster": cluster}],
        "users": [{"name": "bootstrap", "user": {"token": token}}],
        "contexts": [
            {"name": "bootstrap", "context": {"cluster": "bootstrap", "user": "bootstrap"}}
        ],
        "current-context": "bootstrap",
        "preferences": {},
    }
    text: str = yaml.safe_dump(doc, sort_keys=False)
    return text
