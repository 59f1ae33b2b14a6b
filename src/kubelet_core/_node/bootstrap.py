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

from collections.abc import Callable
from pathlib import Path

import structlog

from kubelet_core._apiclient import KubeApi
from kubelet_core._node.certificates import (
    CLIENT_SIGNER,
    SERVING_SIGNER,
    CertificateError,
    CertificateFiles,
    ClusterEndpoint,
    check_clock,
    kubeconfig_client_certificate,
    kubeconfig_usable,
    request_certificate,
    write_node_kubeconfig,
)
from kubelet_core._node.rotation import CertificateRotation
from kubelet_core._pki import (
    PrivateKey,
    build_node_client_csr,
    build_node_serving_csr,
    key_pem,
    new_key,
)

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
    files = CertificateFiles(pki_dir, "client")
    if kubeconfig_usable(kubeconfig):
        if bootstrap_kubeconfig is None or not _moved(kubeconfig, bootstrap_kubeconfig, files):
            return False
        # The cluster moved (``wasmlet up`` on another port): our certificate is still
        # good, only where to find the API server changed.
        write_node_kubeconfig(
            kubeconfig, ClusterEndpoint.from_kubeconfig(bootstrap_kubeconfig), files.current
        )
        return True
    if bootstrap_kubeconfig is None:
        raise CertificateError(
            f"the kubeconfig {kubeconfig} is missing or its client certificate is expired, "
            "and no --bootstrap-kubeconfig was given to get a new one"
        )
    endpoint = ClusterEndpoint.from_kubeconfig(bootstrap_kubeconfig)
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


def _moved(kubeconfig: Path, bootstrap_kubeconfig: Path, files: CertificateFiles) -> bool:
    """True when our own kubeconfig points elsewhere than the bootstrap one now does."""
    cert = kubeconfig_client_certificate(kubeconfig)
    if cert is None or cert.absolute() != files.current.absolute():
        return False  # not a kubeconfig we wrote
    try:
        ours = ClusterEndpoint.from_kubeconfig(kubeconfig)
    except CertificateError:
        return True
    return ours != ClusterEndpoint.from_kubeconfig(bootstrap_kubeconfig)


# -- what an agent runs ---------------------------------------------------------------

#: kubelet's usages for an ECDSA serving key.
SERVING_USAGES = ("digital signature", "server auth")


def client_rotation(
    node_name: str, kubeconfig: Path | None, pki_dir: Path, api: KubeApi
) -> CertificateRotation | None:
    """The rotation of the node's client certificate, when the kubeconfig uses ours.

    A kubeconfig someone else wrote (a token, an admin's certificate, a
    certificate outside the node's pki dir) is theirs to renew.
    """
    if kubeconfig is None:
        return None
    files = CertificateFiles(pki_dir, "client")
    cert = kubeconfig_client_certificate(kubeconfig)
    if cert is None or cert.absolute() != files.current.absolute():
        return None

    async def request(key: PrivateKey) -> bytes:
        return await request_certificate(
            api, build_node_client_csr(node_name, key), signer=CLIENT_SIGNER, usages=CLIENT_USAGES
        )

    return CertificateRotation(files, request, lambda path: api.use_client_certificate(path))


def serving_rotation(
    node_name: str,
    ip: str,
    pki_dir: Path,
    api: KubeApi,
    on_rotated: Callable[[Path], None],
    on_pending: Callable[[str], None],
) -> CertificateRotation:
    """The rotation of the kubelet API's serving certificate (``serverTLSBootstrap``)."""

    async def request(key: PrivateKey) -> bytes:
        return await request_certificate(
            api,
            build_node_serving_csr(node_name, [ip], [node_name], key),
            signer=SERVING_SIGNER,
            usages=SERVING_USAGES,
            on_pending=on_pending,
        )

    return CertificateRotation(CertificateFiles(pki_dir, "server"), request, on_rotated)
