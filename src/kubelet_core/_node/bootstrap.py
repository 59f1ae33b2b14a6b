"""TLS bootstrap: from a bootstrap kubeconfig to the node's own client certificate.

kubelet's ``--bootstrap-kubeconfig`` behaviour.  When the node's kubeconfig
is missing, or its client certificate is expired or unreadable, the node
asks for a certificate with the bootstrap credentials, stores it in its pki
directory and writes a kubeconfig that names it; from then on it is
``system:node:<name>``.  A restarted node reuses valid credentials and asks
nothing; a node whose kubeconfig was lost but whose certificate is still
valid writes the kubeconfig again from it.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from kubelet_core._apiclient import KubeApi
from kubelet_core._node.certificates import (
    CLIENT_SIGNER,
    CertificateError,
    CertificateFiles,
    ClusterEndpoint,
    check_clock,
    kubeconfig_usable,
    request_certificate,
    write_node_kubeconfig,
)
from kubelet_core._pki import build_node_client_csr, key_pem, new_key

log = structlog.get_logger(__name__)

#: kubelet's usages for an ECDSA client key (key encipherment is for RSA keys only).
CLIENT_USAGES = ("digital signature", "client auth")


async def bootstrap_client_certificate(
    node_name: str,
    *,
    kubeconfig: Path,
    bootstrap_kubeconfig: Path | None,
    pki_dir: Path,
) -> bool:
    """Make ``kubeconfig`` usable; True when it had to be (re)written.

    Raises :class:`CertificateError` with what to do when it cannot.
    """
    if kubeconfig_usable(kubeconfig):
        return False
    if bootstrap_kubeconfig is None:
        raise CertificateError(
            f"the kubeconfig {kubeconfig} is missing or its client certificate is expired, "
            "and no --bootstrap-kubeconfig was given to get a new one"
        )
    endpoint = ClusterEndpoint.from_kubeconfig(bootstrap_kubeconfig)
    files = CertificateFiles(pki_dir, "client")
    if files.load() is None:
        log.info("requesting a client certificate (TLS bootstrap)", node=node_name)
        key = new_key()
        api = await KubeApi.from_kubeconfig(bootstrap_kubeconfig)
        try:
            cert_pem = await request_certificate(
                api,
                build_node_client_csr(node_name, key),
                signer=CLIENT_SIGNER,
                usages=CLIENT_USAGES,
                on_pending=lambda name: log.info(
                    "waiting for the client certificate signing request to be approved "
                    "(node client CSRs are approved automatically when the cluster allows "
                    "it; else run the command shown)",
                    csr=name,
                    command=f"kubectl certificate approve {name}",
                ),
            )
        finally:
            await api.close()
        check_clock(cert_pem)
        files.write(cert_pem, key_pem(key))
    else:
        log.info("reusing the node's client certificate", path=str(files.current))
    write_node_kubeconfig(kubeconfig, endpoint, files.current)
    log.info("node credentials ready", node=node_name, kubeconfig=str(kubeconfig))
    return True


__all__ = ["CertificateError", "bootstrap_client_certificate"]
