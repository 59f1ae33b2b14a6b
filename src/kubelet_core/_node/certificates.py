"""The node's credentials, as kubelet gets them: TLS bootstrap, then rotation.

A kubelet that joins a cluster holds only a *bootstrap* kubeconfig (a
bootstrap token, good for nothing but asking for a certificate).  With it,
it asks the cluster for a client certificate through a
``certificates.k8s.io/v1`` CertificateSigningRequest (signer
``kubernetes.io/kube-apiserver-client-kubelet``, subject
``O=system:nodes, CN=system:node:<name>``), waits until the CSR is approved
and signed, and from then on is ``system:node:<name>`` -- the identity the
Node authorizer and NodeRestriction judge.  The same request, made with the
current certificate, renews it before it expires; the serving certificate of
the kubelet API (signer ``kubernetes.io/kubelet-serving``) is got the same
way, except that a person approves it.

The files follow kubelet's layout in ``<pki>/``: each certificate and its key
in one PEM file ``kubelet-<kind>-<UTC stamp>.pem`` (mode 0600), and the link
``kubelet-<kind>-current.pem`` pointing at the one in use, flipped atomically,
so a kubeconfig that names the link never sees half a rotation.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import structlog
import yaml
from cryptography import x509

from kubelet_core._apiclient import ApiError, KubeApi, watch_error
from kubelet_core._pki import write_private
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"

#: kubelet renews when 70-90 % of a certificate's lifetime has passed (jittered, so
#: a fleet of nodes issued at once does not renew at once).
RENEW_FRACTION = (0.7, 0.9)
#: How often a node that waits for an approval says so again.
PENDING_REMINDER_SECONDS = 60.0

Kind = Literal["client", "server"]


class CertificateError(RuntimeError):
    """Getting a certificate failed in a way a person must fix; the message says how."""


# -- files ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CertificateFiles:
    """kubelet's certificate layout for one kind (client or server) in a pki directory."""

    directory: Path
    kind: Kind

    @property
    def current(self) -> Path:
        return self.directory / f"kubelet-{self.kind}-current.pem"

    def load(self, now: datetime.datetime | None = None) -> x509.Certificate | None:
        """The certificate in use, or None when it is missing, unreadable or expired."""
        return valid_certificate(self.current, now)

    def write(self, cert_pem: bytes, key_pem: bytes) -> Path:
        """Store a new pair (mode 0600) and point the ``-current`` link at it."""
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")
        path = self.directory / f"kubelet-{self.kind}-{stamp}.pem"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private(path, cert_pem.rstrip(b"\n") + b"\n" + key_pem)
            link = self.current.with_name(self.current.name + ".tmp")
            link.unlink(missing_ok=True)
            link.symlink_to(path.name)
            os.replace(link, self.current)
        except OSError as error:
            raise CertificateError(
                f"cannot store the node's {self.kind} certificate in {self.directory}: "
                f"{error.strerror or error}"
            ) from error
        return self.current


def _write_private(path: Path, data: bytes) -> None:
    """Write-then-rename, so a reader never sees half a file (the key inside is 0600)."""
    tmp = path.with_name(path.name + ".tmp")
    write_private(tmp, data)
    os.replace(tmp, path)


def valid_certificate(path: Path, now: datetime.datetime | None = None) -> x509.Certificate | None:
    """The first certificate in ``path`` if it parses and is valid at ``now``."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc <= now:
        return None
    return cert


def renewal_time(cert: x509.Certificate, rng: random.Random | None = None) -> datetime.datetime:
    """When to renew: a jittered 70-90 % into the certificate's lifetime."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    fraction = (rng or random).uniform(*RENEW_FRACTION)
    return start + (end - start) * fraction


# -- requests ------------------------------------------------------------------------


PendingCallback = Callable[[str], Awaitable[None] | None]


async def request_certificate(
    api: KubeApi,
    csr_pem: bytes,
    *,
    signer: str,
    usages: Sequence[str],
    expiration_seconds: int | None = None,
    on_pending: PendingCallback | None = None,
    reminder_seconds: float = PENDING_REMINDER_SECONDS,
) -> bytes:
    """Create a CSR and wait until it is signed; the PEM chain the signer issued.

    ``on_pending(name)`` is called once the CSR exists and again every
    ``reminder_seconds`` while it waits for an approval, so a node whose
    serving certificate needs a person says so until someone acts.
    """
    spec: KubeObject = {
        "request": base64.b64encode(csr_pem).decode(),
        "signerName": signer,
        "usages": list(usages),
    }
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    body: KubeObject = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": spec,
    }
    try:
        created = await api.create(CSR_PATH, body)
    except ApiError as error:
        raise _refusal(error) from error
    name = str(created["metadata"]["name"])
    log.info("certificate signing request created", csr=name, signer=signer)
    return await _wait_until_issued(api, created, on_pending, reminder_seconds)


def _refusal(error: ApiError) -> CertificateError:
    if error.status == 401:
        return CertificateError(
            "the API server rejected the bootstrap credentials (401 Unauthorized): the "
            "token is wrong, expired, or not marked usage-bootstrap-authentication; make a "
            "new one (`wasmlet controlplane token create`, `kubeadm token create`)"
        )
    if error.status == 403:
        return CertificateError(
            "this identity may not create CertificateSigningRequests (403 Forbidden: "
            f"{error.message}); bind the ClusterRole system:node-bootstrapper to the group "
            "system:bootstrappers (docs/joining-a-cluster.md)"
        )
    return CertificateError(f"creating a certificate signing request failed: {error}")


def _issued(csr: KubeObject) -> bytes | None:
    """The certificate of a signed CSR; raises for a denied or failed one."""
    status = csr.get("status") or {}
    name = (csr.get("metadata") or {}).get("name")
    for condition in status.get("conditions") or []:
        kind = condition.get("type")
        if kind in ("Denied", "Failed") and condition.get("status", "True") == "True":
            what = "denied" if kind == "Denied" else "not signed"
            detail = ": ".join(
                str(part) for part in (condition.get("reason"), condition.get("message")) if part
            )
            suffix = f" ({detail})" if detail else ""
            raise CertificateError(f"certificate signing request {name} was {what}{suffix}")
    certificate = status.get("certificate")
    return base64.b64decode(certificate) if certificate else None


async def _wait_until_issued(
    api: KubeApi,
    csr: KubeObject,
    on_pending: PendingCallback | None,
    reminder_seconds: float,
) -> bytes:
    name = str(csr["metadata"]["name"])
    path = f"{CSR_PATH}/{name}"
    events: asyncio.Queue[KubeObject | BaseException] = asyncio.Queue()

    async def watch() -> None:
        version = str(csr["metadata"].get("resourceVersion") or "")
        while True:
            try:
                params: dict[str, Any] = {"fieldSelector": f"metadata.name={name}"}
                if version:
                    params["resourceVersion"] = version
                async for event in api.watch(CSR_PATH, params=params):
                    if (error := watch_error(event)) is not None:
                        raise error
                    obj = event.get("object") or {}
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    await events.put(obj)
            except ApiError as error:
                if error.status == 410:
                    version = ""
                await asyncio.sleep(1.0)  # the API server went away: retry the watch
                try:
                    current = await api.get(path)
                except ApiError as get_error:
                    if get_error.status == 404:
                        await events.put(
                            CertificateError(
                                f"certificate signing request {name} was deleted before "
                                "it was signed"
                            )
                        )
                        return
                    continue
                version = str(current["metadata"].get("resourceVersion") or "")
                await events.put(current)

    watcher = asyncio.create_task(watch(), name=f"csr-watch:{name}")
    try:
        latest: KubeObject | BaseException = csr
        while True:
            if isinstance(latest, BaseException):
                raise latest
            issued = _issued(latest)
            if issued is not None:
                log.info("certificate issued", csr=name)
                return issued
            if _approved(latest) is False and on_pending is not None:
                result = on_pending(name)
                if result is not None:
                    await result
            try:
                async with asyncio.timeout(reminder_seconds):
                    latest = await events.get()
            except TimeoutError:
                pass  # still waiting: the loop says so again
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def _approved(csr: KubeObject) -> bool:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Approved" for c in conditions)


def check_clock(cert_pem: bytes) -> None:
    """An issued certificate that is already expired here means this node's clock is wrong."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc <= now:
        raise CertificateError(
            f"the certificate just issued expired at {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ} "
            f"by this node's clock ({now:%Y-%m-%dT%H:%M:%SZ}): the node's clock is wrong "
            "(enable NTP), or the signer's lifetime is too short"
        )
    if cert.not_valid_before_utc > now + datetime.timedelta(seconds=5):
        log.warning(
            "the certificate is not valid yet by this node's clock: the node's clock is behind",
            not_before=cert.not_valid_before_utc.isoformat(),
            now=now.isoformat(),
        )


# -- kubeconfigs ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClusterEndpoint:
    """Where the API server is and how to trust it, as a kubeconfig names them."""

    server: str
    ca_data: bytes | None = None
    insecure: bool = False

    @classmethod
    def from_kubeconfig(cls, path: Path) -> ClusterEndpoint:
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise CertificateError(f"cannot read the kubeconfig {path}: {error}") from error
        cluster, _user = _current(config)
        server = cluster.get("server")
        if not server:
            raise CertificateError(f"the bootstrap kubeconfig {path} names no server")
        ca_data: bytes | None = None
        if cluster.get("certificate-authority-data"):
            ca_data = base64.b64decode(cluster["certificate-authority-data"])
        elif cluster.get("certificate-authority"):
            ca_file = Path(cluster["certificate-authority"])
            if not ca_file.is_absolute():
                ca_file = path.parent / ca_file
            ca_data = ca_file.read_bytes()
        return cls(str(server), ca_data, bool(cluster.get("insecure-skip-tls-verify")))


def write_node_kubeconfig(path: Path, endpoint: ClusterEndpoint, cert_file: Path) -> None:
    """A kubeconfig that authenticates with the rotating certificate (as kubelet's)."""
    cluster: KubeObject = {"server": endpoint.server}
    if endpoint.ca_data is not None:
        cluster["certificate-authority-data"] = base64.b64encode(endpoint.ca_data).decode()
    if endpoint.insecure:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "contexts": [
            {
                "name": "default-context",
                "context": {"cluster": "default-cluster", "user": "default-auth"},
            }
        ],
        "current-context": "default-context",
        "users": [
            {
                "name": "default-auth",
                "user": {"client-certificate": str(cert_file), "client-key": str(cert_file)},
            }
        ],
        "preferences": {},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    except OSError as error:
        raise CertificateError(f"cannot write the node's kubeconfig {path}: {error}") from error


def _current(config: KubeObject) -> tuple[KubeObject, KubeObject]:
    """The current context's cluster and user entries (the first ones if none is current)."""

    def named(key: str, field: str) -> dict[Any, KubeObject]:
        return {e.get("name"): e.get(field) or {} for e in config.get(key) or []}

    contexts = named("contexts", "context")
    context = contexts.get(config.get("current-context")) or next(iter(contexts.values()), {})
    clusters, users = named("clusters", "cluster"), named("users", "user")
    cluster = clusters.get(context.get("cluster")) or next(iter(clusters.values()), {})
    return cluster, users.get(context.get("user")) or {}


def kubeconfig_client_certificate(path: Path) -> Path | None:
    """The client-certificate file a kubeconfig uses (None: it authenticates otherwise)."""
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    _cluster, user = _current(config)
    name = user.get("client-certificate")
    if not name:
        return None
    cert = Path(name)
    return cert if cert.is_absolute() else path.parent / cert


def kubeconfig_usable(path: Path) -> bool:
    """True when ``path`` exists and its client certificate (if it uses one) is valid now."""
    if not path.is_file():
        return False
    try:
        _cluster, user = _current(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError):
        return False
    if user.get("client-certificate-data"):  # embedded: check it too
        try:
            embedded = x509.load_pem_x509_certificate(
                base64.b64decode(user["client-certificate-data"])
            )
        except ValueError:
            return False
        return embedded.not_valid_after_utc > datetime.datetime.now(datetime.UTC)
    cert = kubeconfig_client_certificate(path)
    if cert is None:
        return True  # token or exec credentials: nothing of ours to renew
    return valid_certificate(cert) is not None
