"""The CSR approver and signer: kube-controller-manager's csrapproving and csrsigning.

:class:`CsrApprover` approves kubelet client CSRs whose requester may ``create``
``certificatesigningrequests/nodeclient`` (a bootstrap token asking for a node name) or
``.../selfnodeclient`` (a node renewing its own certificate), as the authorizer says;
kubelet serving CSRs wait for an admin (``kubectl certificate approve``) unless
``approve_serving`` is set (development clusters). :class:`CsrSigner` signs approved
CSRs of the three well-known signers with the cluster CA, honouring
``spec.expirationSeconds`` up to ``max_duration`` (at least ten minutes) in kube's
validity window (NotBefore backdated five minutes, NotAfter too unless short-lived,
never past the CA's), and marks a CSR its signer's rules refuse ``Failed`` (reason
``SignerValidationFailure``). Both write through the registry's ``/approval`` and
``/status`` paths, so the API's rules apply to them too.

Both react to store events (no polling) and process one CSR at a time off a queue.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Callable

from kubelet_core import _pki
from kubelet_core._controlplane import certificates
from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.pki import PKI
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import CERTIFICATESIGNINGREQUESTS as CSRS
from kubelet_core._controlplane.store import Event, Store

log = logging.getLogger(__name__)
Decide = Callable[[UserInfo, RequestInfo], tuple[bool, str]]
DEFAULT_MAX_DURATION = dt.timedelta(days=365)  # --cluster-signing-duration


class _CsrController(BackgroundController):
    """Calls ``reconcile`` for each CSR that is added or changes."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for entry in self.store.entries(CSRS):
            self._queue.put_nowait(entry.obj["metadata"]["name"])
        self.store.add_listener(self._on_event)
        self._launch("csr")

    def _on_event(self, event: Event) -> None:
        if event.rt is CSRS and event.type in ("ADDED", "MODIFIED") and self._task is not None:
            self._queue.put_nowait(event.obj["metadata"]["name"])

    async def _run(self) -> None:
        while True:
            name = await self._queue.get()
            entry = self.store.get(CSRS, "", name)
            if entry is None:
                continue
            try:
                await self.reconcile(entry.obj)
            except ApiError as exc:
                log.warning("CSR %s: %s", name, exc.message)
            except Exception:
                log.exception("CSR %s could not be processed", name)

    async def reconcile(self, csr: certificates.KubeObject) -> None:
        raise NotImplementedError


class CsrApprover(_CsrController):
    def __init__(
        self, store: Store, registry: Registry, decide: Decide, *, approve_serving: bool = False
    ) -> None:
        super().__init__(store, registry)
        self.decide = decide
        self.approve_serving = approve_serving

    async def reconcile(self, csr: certificates.KubeObject) -> None:
        if not certificates.is_pending(csr):
            return
        spec = csr.get("spec") or {}
        requester = UserInfo(
            str(spec.get("username") or ""),
            tuple(spec.get("groups") or ()),
            uid=spec.get("uid", ""),
        )
        subresource = certificates.node_client_subresource(csr)
        if subresource is not None:
            info = RequestInfo(
                "create",
                "",
                True,
                "certificates.k8s.io",
                "v1",
                "certificatesigningrequests",
                subresource,
            )
            if not self.decide(requester, info)[0]:
                return
            self_ = "self " if subresource == "selfnodeclient" else ""
            message = f"Auto approving {self_}kubelet client certificate after SubjectAccessReview."
        elif self.approve_serving and certificates.is_own_serving_request(csr):
            message = "Auto approving kubelet serving certificate (development mode)."
        else:
            return
        name = csr["metadata"]["name"]
        approved = certificates.with_condition(csr, "Approved", "AutoApproved", message)
        await self.registry.update(CSRS, "", name, approved, subresource="approval")


class CsrSigner(_CsrController):
    def __init__(
        self,
        store: Store,
        registry: Registry,
        pki: PKI,
        *,
        max_duration: dt.timedelta = DEFAULT_MAX_DURATION,
    ) -> None:
        super().__init__(store, registry)
        self.pki = pki
        self.max_duration = max_duration

    async def reconcile(self, csr: certificates.KubeObject) -> None:
        status = csr.get("status") or {}
        if (
            status.get("certificate")
            or not certificates.condition(csr, "Approved")
            or certificates.condition(csr, "Denied")
            or certificates.condition(csr, "Failed")
            or (csr.get("spec") or {}).get("signerName") not in certificates.SIGNERS
        ):
            return
        name = csr["metadata"]["name"]
        problems = certificates.signer_errors(csr)
        if problems:
            failed = certificates.with_condition(
                csr, "Failed", "SignerValidationFailure", "; ".join(problems)
            )
            await self.registry.update(CSRS, "", name, failed, subresource="status")
            return
        loop = asyncio.get_running_loop()
        pem = await loop.run_in_executor(None, self._sign, csr)
        signed = {**csr, "status": {**status, "certificate": base64.b64encode(pem).decode()}}
        await self.registry.update(CSRS, "", name, signed, subresource="status")

    def _sign(self, csr: certificates.KubeObject) -> bytes:
        leaf = certificates.requested_leaf(csr, self.max_duration)
        request = certificates.parse_request(csr)
        public_key = request.public_key()
        if not isinstance(public_key, _pki.PublicKey):
            raise ValueError(f"unsupported public key type {type(public_key).__name__}")
        window = certificates.signing_window(
            leaf.lifetime, self.pki.ca_cert().not_valid_after_utc, dt.datetime.now(dt.UTC)
        )
        cert = self.pki.sign(leaf, public_key, subject=request.subject, validity=window)
        return _pki.cert_pem(cert)
