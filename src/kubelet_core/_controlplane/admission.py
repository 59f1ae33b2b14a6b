"""Admission: the checks that need the request's user *and* its body or target object.

Run by the Api after authorization and before the registry, on every write:

* CertificateSigningRequest create: ``spec.username``, ``uid``, ``groups`` and ``extra``
  are the requester's (kube's CSR strategy), whatever the body claimed;
* ``certificatesigningrequests/approval``: the requester needs ``approve`` on the CSR's
  signer (``signers`` in ``certificates.k8s.io``), as kube-apiserver's CertificateApproval
  admission demands;
* NodeRestriction for nodes (``noderestriction``).
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane import certificates, noderestriction
from kubelet_core._controlplane.access import CSRS, AccessPolicy
from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.node_authorizer import node_name
from kubelet_core._controlplane.requestinfo import RequestInfo
from kubelet_core._controlplane.resources import CERTIFICATESIGNINGREQUESTS
from kubelet_core._controlplane.store import Store

GROUP = "certificates.k8s.io"


class Admission:
    def __init__(self, store: Store, policy: AccessPolicy) -> None:
        self.store = store
        self.policy = policy

    def admit(self, user: UserInfo | None, info: RequestInfo | None, body: Any) -> None:
        if user is None or info is None or not info.is_resource:
            return
        if info.api_group == GROUP and info.resource == CSRS:
            self._admit_csr(user, info, body)
        node = node_name(user.name, user.groups)
        if node is not None:
            noderestriction.admit(node, info, body, self.store)

    def _admit_csr(self, user: UserInfo, info: RequestInfo, body: Any) -> None:
        if info.verb == "create" and not info.name:
            certificates.stamp_requester(body, user.name, user.uid, user.groups, user.extra)
        elif info.subresource == "approval" and info.verb in ("update", "patch"):
            entry = self.store.get(CERTIFICATESIGNINGREQUESTS, "", info.name)
            if entry is None:
                return  # the registry answers 404
            signer = str((entry.obj.get("spec") or {}).get("signerName") or "")
            approve = RequestInfo(
                "approve", info.path, True, GROUP, "v1", "signers", "", "", signer
            )
            if not self.policy.decide(user, approve)[0]:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{CSRS}.{GROUP} "{info.name}" is forbidden: user not permitted to approve '
                    f'requests with signerName "{signer}"',
                    {"name": info.name, "group": GROUP, "kind": CSRS},
                )
