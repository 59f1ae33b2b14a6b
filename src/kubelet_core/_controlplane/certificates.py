"""CertificateSigningRequests (``certificates.k8s.io/v1``): the rules, without the controllers.

What kube-apiserver's CSR strategies and validation enforce, and what
kube-controller-manager's signers check before signing, as plain functions on JSON
dicts so the registry (on every write) and the controllers (``csr_controllers``) share
them:

* create: ``spec.request`` is a PEM ``CERTIFICATE REQUEST`` with a valid signature,
  ``signerName`` is a qualified name, ``usages`` are known and unique,
  ``expirationSeconds`` is at least 600; the status is cleared and ``spec.username``,
  ``uid``, ``groups`` and ``extra`` come from the requester, never from the body;
* updates: the main resource changes metadata only; ``/approval`` changes only the
  conditions (Approved and Denied are exclusive and never removed); ``/status`` may not
  touch Approved/Denied and may not change a certificate once issued;
* the well-known signers' rules (``kubelet_client_errors`` and friends): what a CSR must
  look like before ``kubernetes.io/kube-apiserver-client-kubelet``,
  ``kubernetes.io/kubelet-serving`` or ``kubernetes.io/kube-apiserver-client`` signs it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelet_core import _pki

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
SIGNERS = (KUBE_APISERVER_CLIENT, KUBELET_CLIENT, KUBELET_SERVING)
MIN_EXPIRATION = 600
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
APPROVAL_TYPES = ("Approved", "Denied")

_SIGNER_NAME = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9_.\-/]+$"
)
_REQUIRED, _INVALID = "FieldValueRequired", "FieldValueInvalid"
_FORBIDDEN, _DUPLICATE = "FieldValueForbidden", "FieldValueDuplicate"
_UNSUPPORTED = "FieldValueNotSupported"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- reading a CSR -------------------------------------------------------------------------
def parse_request(csr: KubeObject) -> x509.CertificateSigningRequest:
    """The x509 request in ``spec.request`` (base64 of PEM); ValueError when it is not one."""
    raw = (csr.get("spec") or {}).get("request")
    if not isinstance(raw, str) or not raw:
        raise ValueError("no request")
    try:
        pem = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("illegal base64 data") from None
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    request = _pki.load_csr(pem)
    if not request.is_signature_valid:
        raise ValueError("the request's signature is invalid")
    return request


def condition(csr: KubeObject, kind: str) -> KubeObject | None:
    for cond in (csr.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status", "True") == "True":
            return dict(cond)
    return None


def is_pending(csr: KubeObject) -> bool:
    return not any(condition(csr, t) for t in (*APPROVAL_TYPES, "Failed"))


def with_condition(csr: KubeObject, kind: str, reason: str, message: str) -> KubeObject:
    """A copy of ``csr`` with one more condition (what ``/approval`` or ``/status`` gets)."""
    status = dict(csr.get("status") or {})
    stamp = now()
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    conditions.append(
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    status["conditions"] = conditions
    return {**csr, "status": status}


# -- the registry's strategy ---------------------------------------------------------------
def stamp_requester(csr: Any, username: str, uid: str, groups: Iterable[str], extra: Any) -> None:
    """Who asked, from authentication: the body's own claims are overwritten."""
    if not isinstance(csr, dict):
        return
    spec = csr.get("spec")
    if not isinstance(spec, dict):
        spec = csr["spec"] = {}
    spec["username"] = username
    spec["groups"] = list(groups)
    for key, value in (("uid", uid), ("extra", extra)):
        if value:
            spec[key] = value
        else:
            spec.pop(key, None)


def prepare_create(csr: KubeObject) -> None:
    csr.pop("status", None)
    csr["status"] = {}


def validate_create(csr: KubeObject) -> list[Cause]:
    spec = csr.get("spec")
    if not isinstance(spec, dict):
        return [("spec", _REQUIRED, "Required value")]
    causes: list[Cause] = []
    if not spec.get("request"):
        causes.append(("spec.request", _REQUIRED, "Required value"))
    else:
        try:
            parse_request(csr)
        except ValueError as exc:
            causes.append(("spec.request", _INVALID, f"Invalid value: <redacted>: {exc}"))
    signer = spec.get("signerName")
    if not signer:
        causes.append(("spec.signerName", _REQUIRED, "Required value"))
    elif not isinstance(signer, str) or not _SIGNER_NAME.match(signer):
        causes.append(
            (
                "spec.signerName",
                _INVALID,
                f'Invalid value: "{signer}": must be a fully qualified domain and path of '
                "the form 'example.com/signer-name'",
            )
        )
    usages = spec.get("usages")
    if not usages:
        causes.append(("spec.usages", _REQUIRED, "Required value"))
    elif isinstance(usages, list):
        seen: set[str] = set()
        for index, usage in enumerate(usages):
            where = f"spec.usages[{index}]"
            if usage not in _pki.KNOWN_USAGES:
                known = ", ".join(f'"{u}"' for u in sorted(_pki.KNOWN_USAGES))
                causes.append(
                    (
                        where,
                        _UNSUPPORTED,
                        f'Unsupported value: "{usage}": supported values: {known}',
                    )
                )
            elif usage in seen:
                causes.append((where, _DUPLICATE, f'Duplicate value: "{usage}"'))
            seen.add(str(usage))
    seconds = spec.get("expirationSeconds")
    if seconds is not None and (not isinstance(seconds, int) or seconds < MIN_EXPIRATION):
        causes.append(
            (
                "spec.expirationSeconds",
                _INVALID,
                f"Invalid value: {seconds}: may not specify a duration less than "
                f"{MIN_EXPIRATION} seconds ({MIN_EXPIRATION // 60} minutes)",
            )
        )
    return causes


def merge_update(old: KubeObject, new: KubeObject, subresource: str) -> KubeObject:
    """The object an update stores: kube's csr, csr/approval and csr/status strategies."""
    merged = dict(new)
    merged["spec"] = old.get("spec")
    old_status = dict(old.get("status") or {})
    if subresource == "approval":
        status = dict(old_status)
        status["conditions"] = _stamped(
            (new.get("status") or {}).get("conditions") or [], old_status
        )
        merged["status"] = status
        merged["metadata"] = dict(old["metadata"])
    elif subresource == "status":
        status = dict(new.get("status") or {})
        status["conditions"] = _stamped(status.get("conditions") or [], old_status)
        merged["status"] = status
        merged["metadata"] = dict(old["metadata"])
    else:
        merged["status"] = old_status
    return merged


def _stamped(conditions: list[KubeObject], old_status: KubeObject) -> list[KubeObject]:
    """Conditions with lastUpdateTime defaulted and lastTransitionTime kept or set."""
    previous = {c.get("type"): c for c in old_status.get("conditions") or []}
    stamp = now()
    out = []
    for cond in conditions:
        cond = dict(cond)
        cond.setdefault("status", "True")
        cond.setdefault("lastUpdateTime", stamp)
        before = previous.get(cond.get("type"))
        if before is not None and before.get("status") == cond["status"]:
            cond["lastTransitionTime"] = before.get("lastTransitionTime", stamp)
        else:
            cond.setdefault("lastTransitionTime", stamp)
        out.append(cond)
    return out


def validate_update(old: KubeObject, new: KubeObject, subresource: str) -> list[Cause]:
    causes: list[Cause] = []
    conditions = (new.get("status") or {}).get("conditions") or []
    seen: set[str] = set()
    for index, cond in enumerate(conditions):
        kind = str(cond.get("type") or "")
        where = f"status.conditions[{index}]"
        if not kind:
            causes.append((f"{where}.type", _REQUIRED, "Required value"))
        elif kind in seen and kind in (*APPROVAL_TYPES, "Failed"):
            causes.append((f"{where}.type", _DUPLICATE, f'Duplicate value: "{kind}"'))
        seen.add(kind)
        if cond.get("status") not in ("True", "False", "Unknown"):
            causes.append(
                (
                    f"{where}.status",
                    _UNSUPPORTED,
                    f'Unsupported value: "{cond.get("status")}": supported values: '
                    '"False", "True", "Unknown"',
                )
            )
    if condition(new, "Approved") and condition(new, "Denied"):
        causes.append(
            (
                "status.conditions",
                _INVALID,
                "Invalid value: Approved and Denied conditions are mutually exclusive",
            )
        )
    for kind in APPROVAL_TYPES:
        was, now_ = condition(old, kind), condition(new, kind)
        if was and not now_:
            causes.append(
                (
                    "status.conditions",
                    _FORBIDDEN,
                    f'Forbidden: updates may not remove a condition of type "{kind}"',
                )
            )
        if subresource == "status" and now_ and not was:
            causes.append(
                (
                    "status.conditions",
                    _FORBIDDEN,
                    f'Forbidden: updates may not add a condition of type "{kind}"',
                )
            )
    old_cert = (old.get("status") or {}).get("certificate")
    new_cert = (new.get("status") or {}).get("certificate")
    if old_cert and new_cert != old_cert:
        causes.append(
            (
                "status.certificate",
                _FORBIDDEN,
                "Forbidden: updates may not modify existing certificate content",
            )
        )
    elif new_cert and not old_cert:
        try:
            pem = base64.b64decode(new_cert, validate=True)
            x509.load_pem_x509_certificates(pem)
        except ValueError as exc:
            causes.append(("status.certificate", _INVALID, f"Invalid value: <certificate>: {exc}"))
    return causes


# -- the signers' rules --------------------------------------------------------------------
def _subject(request: x509.CertificateSigningRequest) -> tuple[str, list[str]]:
    common = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(common[0].value) if common else ""), [str(o.value) for o in orgs]


def _sans(request: x509.CertificateSigningRequest) -> tuple[list[str], list[str], bool]:
    """(dns names, ip addresses, whether there are email/URI names too)."""
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], False
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    other = bool(
        san.get_values_for_type(x509.RFC822Name)
        or san.get_values_for_type(x509.UniformResourceIdentifier)
    )
    return dns, ips, other


def _usage_errors(usages: list[str], required: set[str], allowed: set[str]) -> list[str]:
    errors = []
    missing = sorted(required - set(usages))
    if missing:
        errors.append(f"usages did not include {missing}")
    extra = sorted(set(usages) - allowed)
    if extra:
        errors.append(f"usages {extra} are not allowed")
    return errors


def kubelet_client_errors(request: x509.CertificateSigningRequest, usages: list[str]) -> list[str]:
    """Why ``request`` is not a kubelet client certificate request (empty: it is one)."""
    cn, orgs = _subject(request)
    errors = []
    if orgs != [NODES_GROUP]:
        errors.append(f'subject organization is not "{NODES_GROUP}"')
    if not cn.startswith(NODE_PREFIX) or len(cn) == len(NODE_PREFIX):
        errors.append(f'subject common name does not begin with "{NODE_PREFIX}"')
    dns, ips, other = _sans(request)
    if dns or ips or other:
        errors.append("subject alternative names are not allowed")
    errors += _usage_errors(
        usages,
        {"digital signature", "client auth"},
        {"digital signature", "key encipherment", "client auth"},
    )
    return errors


def kubelet_serving_errors(request: x509.CertificateSigningRequest, usages: list[str]) -> list[str]:
    cn, orgs = _subject(request)
    errors = []
    if orgs != [NODES_GROUP]:
        errors.append(f'subject organization is not "{NODES_GROUP}"')
    if not cn.startswith(NODE_PREFIX) or len(cn) == len(NODE_PREFIX):
        errors.append(f'subject common name does not begin with "{NODE_PREFIX}"')
    dns, ips, other = _sans(request)
    if other:
        errors.append("email and URI subject alternative names are not allowed")
    if not dns and not ips:
        errors.append("at least one DNS or IP subject alternative name is required")
    errors += _usage_errors(
        usages,
        {"digital signature", "server auth"},
        {"digital signature", "key encipherment", "server auth"},
    )
    return errors


def apiserver_client_errors(
    request: x509.CertificateSigningRequest, usages: list[str]
) -> list[str]:
    return _usage_errors(
        usages, {"client auth"}, {"digital signature", "key encipherment", "client auth"}
    )


RULES = {
    KUBELET_CLIENT: kubelet_client_errors,
    KUBELET_SERVING: kubelet_serving_errors,
    KUBE_APISERVER_CLIENT: apiserver_client_errors,
}


def signer_errors(csr: KubeObject) -> list[str]:
    """Why the CSR's own signer must refuse it (empty: it may be signed)."""
    spec = csr.get("spec") or {}
    rule = RULES.get(str(spec.get("signerName") or ""))
    if rule is None:
        return [f"unknown signer {spec.get('signerName')!r}"]
    try:
        request = parse_request(csr)
    except ValueError as exc:
        return [str(exc)]
    return rule(request, [str(u) for u in spec.get("usages") or []])


#: kube's csrsigning: NotBefore is always backdated this much, and so is NotAfter of a
#: certificate living at least SHORT_LIFETIME (5 minutes is about 1% of 8 hours).
SIGNING_BACKDATE = dt.timedelta(minutes=5)
SHORT_LIFETIME = dt.timedelta(hours=8)
#: The shortest lifetime the signer grants, twice the backdate.
MIN_SIGNED_LIFETIME = dt.timedelta(minutes=10)


def signed_lifetime(expiration_seconds: object, max_duration: dt.timedelta) -> dt.timedelta:
    """The TTL kube's signer uses: ``--cluster-signing-duration`` unless
    ``spec.expirationSeconds`` asks for less, and never under ten minutes."""
    if not isinstance(expiration_seconds, int) or isinstance(expiration_seconds, bool):
        return max_duration
    requested = dt.timedelta(seconds=expiration_seconds)
    return max(MIN_SIGNED_LIFETIME, min(requested, max_duration))


def signing_window(
    lifetime: dt.timedelta, signer_not_after: dt.datetime, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """NotBefore and NotAfter as kube's PermissiveSigningPolicy sets them: NotBefore is
    backdated; NotAfter is ``now + TTL``, less the backdate unless the certificate is
    short-lived, and never past the signer's own NotAfter."""
    not_before = now - SIGNING_BACKDATE
    not_after = now + lifetime
    if lifetime >= SHORT_LIFETIME:
        not_after -= SIGNING_BACKDATE
    not_after = min(not_after, signer_not_after)
    if not_before >= signer_not_after:
        raise ValueError(f"the signer has expired: NotAfter={signer_not_after}")
    if now >= signer_not_after:
        raise ValueError(
            f"refusing to sign a certificate that expired in the past: NotAfter={signer_not_after}"
        )
    return not_before, not_after


def requested_leaf(csr: KubeObject, max_duration: dt.timedelta) -> _pki.Leaf:
    """What the signed certificate says: the requested usages, SANs and (capped) duration."""
    spec = csr.get("spec") or {}
    request = parse_request(csr)
    cn, orgs = _subject(request)
    dns, ips, _ = _sans(request)
    lifetime = signed_lifetime(spec.get("expirationSeconds"), max_duration)
    usages = tuple(str(u) for u in spec.get("usages") or [])
    return _pki.Leaf(cn, tuple(orgs), usages, tuple(dns), tuple(ips), lifetime)


def requested_subject(csr: KubeObject) -> x509.Name:
    return parse_request(csr).subject


# -- the approver's recognizers (kube's csrapproving) --------------------------------------
def node_client_subresource(csr: KubeObject) -> str | None:
    """``selfnodeclient`` for a node renewing its own client certificate, ``nodeclient``
    for any other valid kubelet client request, None for anything else.

    The approver then asks the authorizer whether the requester may ``create``
    ``certificatesigningrequests/<that subresource>``, as kube-controller-manager does.
    """
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBELET_CLIENT:
        return None
    try:
        request = parse_request(csr)
    except ValueError:
        return None
    if kubelet_client_errors(request, [str(u) for u in spec.get("usages") or []]):
        return None
    common_name, _orgs = _subject(request)
    return "selfnodeclient" if spec.get("username") == common_name else "nodeclient"


def is_own_serving_request(csr: KubeObject) -> bool:
    """A node asking for a serving certificate in its own name (for dev auto-approval)."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBELET_SERVING or NODES_GROUP not in (spec.get("groups") or ()):
        return False
    try:
        request = parse_request(csr)
    except ValueError:
        return False
    if kubelet_serving_errors(request, [str(u) for u in spec.get("usages") or []]):
        return False
    return _subject(request)[0] == spec.get("username")
