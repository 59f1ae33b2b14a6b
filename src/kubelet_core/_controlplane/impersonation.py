"""User impersonation (``kubectl --as``/``--as-group``), kube-apiserver's ``Impersonate-*`` headers.

A request with ``Impersonate-User`` is served as that user once the authenticated
requester is allowed to ``impersonate`` it: ``users`` (core group) by name, or
``serviceaccounts`` in their namespace for ``system:serviceaccount:<ns>:<name>``, each
``Impersonate-Group`` as ``groups``, ``Impersonate-Uid`` as ``uids`` and each
``Impersonate-Extra-<key>`` as ``userextras/<key>`` in ``authentication.k8s.io``. The
impersonated user gets ``system:authenticated`` (a service account also its
``system:serviceaccounts`` groups when no group is given), as in kube.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from multidict import CIMultiDictProxy

from kubelet_core._controlplane.auth import UserInfo
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.requestinfo import RequestInfo

USER, GROUP, UID, EXTRA = (
    "Impersonate-User",
    "Impersonate-Group",
    "Impersonate-Uid",
    "Impersonate-Extra-",
)
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"
Authorize = Callable[[UserInfo, RequestInfo], tuple[bool, str]]


def _check(
    authorize: Authorize,
    requester: UserInfo,
    resource: str,
    name: str,
    namespace: str = "",
    group: str = "",
) -> None:
    sub = ""
    if "/" in resource:
        resource, sub = resource.split("/", 1)
    info = RequestInfo("impersonate", "", True, group, "v1", resource, sub, namespace, name)
    allowed, message = authorize(requester, info)
    if not allowed:
        raise ApiError(403, "Forbidden", message, {"name": name, "kind": resource})


def impersonate(
    requester: UserInfo, headers: CIMultiDictProxy[str], authorize: Authorize
) -> UserInfo:
    """The user to serve the request as (``requester`` without impersonation headers)."""

    def getall(key: str) -> list[str]:
        return list(headers.getall(key, []))

    name = headers.get(USER, "")
    groups = getall(GROUP)
    extra_keys = sorted({k for k in headers if k.lower().startswith(EXTRA.lower())})
    if not name:
        if groups or extra_keys or headers.get(UID):
            raise ApiError(500, "InternalError", "requested impersonation without a username")
        return requester
    if name.startswith(SERVICEACCOUNT_PREFIX):
        namespace, _, account = name[len(SERVICEACCOUNT_PREFIX) :].partition(":")
        _check(authorize, requester, "serviceaccounts", account, namespace)
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        _check(authorize, requester, "users", name)
    for group in getall(GROUP):
        _check(authorize, requester, "groups", group)
    uid = headers.get(UID, "")
    if uid:
        _check(authorize, requester, "uids", uid, group="authentication.k8s.io")
    extra: dict[str, list[str]] = {}
    for key in extra_keys:
        field = unquote(key[len(EXTRA) :]).lower()
        for value in getall(key):
            _check(
                authorize, requester, f"userextras/{field}", value, group="authentication.k8s.io"
            )
            extra.setdefault(field, []).append(value)
    if name != "system:anonymous" and "system:authenticated" not in groups:
        groups = [*groups, "system:authenticated"]
    return UserInfo(name, tuple(groups), extra, uid=uid)
