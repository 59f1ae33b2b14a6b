"""The review APIs a user asks about themself: ``kubectl auth can-i`` and ``kubectl auth whoami``.

* ``authorization.k8s.io/v1`` SelfSubjectAccessReview (``can-i VERB RESOURCE``),
  LocalSubjectAccessReview (a SubjectAccessReview limited to one namespace) and
  SelfSubjectRulesReview (``can-i --list``: the rules RBAC grants in a namespace);
* ``authentication.k8s.io/v1`` SelfSubjectReview (``whoami``: the user as authenticated).

Each is create-only and never stored; the answer is the request with ``status`` filled
in (201), decided by the same chain as every request (:class:`~.access.AccessPolicy`).
SubjectAccessReview and TokenReview (for kubelets' webhooks) are answered by
:mod:`.authn_authz`; this module also serves the two groups' discovery documents.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubelet_core._controlplane import errors, jsonutil, protobuf
from kubelet_core._controlplane.access import AccessPolicy
from kubelet_core._controlplane.auth import ANONYMOUS, UserInfo
from kubelet_core._controlplane.authn_authz import subject_access_review
from kubelet_core._controlplane.node_authorizer import node_name

KubeObject = dict[str, Any]
AUTHORIZATION, AUTHENTICATION = "authorization.k8s.io", "authentication.k8s.io"
#: group -> (plural, kind, namespaced) of the create-only review resources.
RESOURCES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    AUTHENTICATION: (
        ("selfsubjectreviews", "SelfSubjectReview", False),
        ("tokenreviews", "TokenReview", False),
    ),
    AUTHORIZATION: (
        ("localsubjectaccessreviews", "LocalSubjectAccessReview", True),
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
        ("subjectaccessreviews", "SubjectAccessReview", False),
    ),
}


def api_groups() -> list[KubeObject]:
    """The groups' entries of ``/apis`` (APIGroup documents)."""
    return [_api_group(group) for group in sorted(RESOURCES)]


def _api_group(group: str) -> KubeObject:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [version],
        "preferredVersion": version,
    }


def _resource_list(group: str) -> KubeObject:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/v1",
        "resources": [
            {
                "name": plural,
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create"],
            }
            for plural, kind, namespaced in RESOURCES[group]
        ],
    }


def user_info(user: UserInfo) -> KubeObject:
    info: KubeObject = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def self_subject_review(user: UserInfo) -> KubeObject:
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": f"{AUTHENTICATION}/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": user_info(user)},
    }


def self_subject_rules_review(policy: AccessPolicy, user: UserInfo, body: KubeObject) -> KubeObject:
    namespace = str((body.get("spec") or {}).get("namespace") or "")
    resource_rules: list[KubeObject] = []
    url_rules: list[KubeObject] = []
    for rule in policy.rules(user, namespace):
        if rule.get("nonResourceURLs"):
            url_rules.append({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]})
        else:
            keep = ("verbs", "apiGroups", "resources", "resourceNames")
            resource_rules.append({k: rule[k] for k in keep if k in rule})
    # The Node authorizer's decisions depend on the objects asked about: not listable.
    incomplete = node_name(user.name, user.groups) is not None
    status: KubeObject = {
        "resourceRules": resource_rules,
        "nonResourceRules": url_rules,
        "incomplete": incomplete,
    }
    if incomplete:
        status["evaluationError"] = "node authorizer rules depend on the objects requested"
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": f"{AUTHORIZATION}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"namespace": namespace} if namespace else {},
        "status": status,
    }


async def _body(request: web.Request, kind: str) -> KubeObject:
    raw = await request.read()
    if not raw:
        return {}
    try:
        if "protobuf" in request.headers.get("Content-Type", ""):
            body: Any = protobuf.decode(raw)
        else:
            body = jsonutil.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc
    if not isinstance(body, dict) or body.get("kind", kind) != kind:
        raise errors.bad_request(f"the request body must be a {kind}")
    return body


def _created(obj: KubeObject) -> web.Response:
    return web.Response(body=jsonutil.dumps(obj), status=201, content_type="application/json")


def _failed(exc: errors.ApiError) -> web.Response:
    return web.Response(body=exc.body(), status=exc.code, content_type="application/json")


def routes(policy: AccessPolicy) -> list[web.RouteDef]:
    """The self-review POSTs and both groups' discovery GETs, for ``app.add_routes``."""

    def user_of(request: web.Request) -> UserInfo:
        user = request.get("user")
        return user if isinstance(user, UserInfo) else ANONYMOUS

    async def access(request: web.Request) -> web.Response:
        try:
            body = await _body(request, "SelfSubjectAccessReview")
        except errors.ApiError as exc:
            return _failed(exc)
        user = user_of(request)
        spec = {
            k: v
            for k, v in (body.get("spec") or {}).items()
            if k in ("resourceAttributes", "nonResourceAttributes")
        }
        asked = {**spec, **user_info(user)}
        asked["user"] = asked.pop("username")
        answer = subject_access_review({"spec": asked}, policy.review, "SelfSubjectAccessReview")
        answer["spec"] = spec
        return _created(answer)

    async def local_access(request: web.Request) -> web.Response:
        namespace = request.match_info["namespace"]
        try:
            body = await _body(request, "LocalSubjectAccessReview")
            spec = body.get("spec") or {}
            attrs = spec.get("resourceAttributes") or {}
            if attrs.get("namespace", namespace) != namespace or "nonResourceAttributes" in spec:
                raise errors.bad_request(
                    "spec.resourceAttributes.namespace must match the namespace of the request, "
                    "and nonResourceAttributes are not allowed"
                )
        except errors.ApiError as exc:
            return _failed(exc)
        body["spec"] = {**spec, "resourceAttributes": {**attrs, "namespace": namespace}}
        answer = subject_access_review(body, policy.review, "LocalSubjectAccessReview")
        answer["metadata"]["namespace"] = namespace
        return _created(answer)

    async def rules(request: web.Request) -> web.Response:
        try:
            body = await _body(request, "SelfSubjectRulesReview")
        except errors.ApiError as exc:
            return _failed(exc)
        return _created(self_subject_rules_review(policy, user_of(request), body))

    async def whoami(request: web.Request) -> web.Response:
        try:
            await _body(request, "SelfSubjectReview")
        except errors.ApiError as exc:
            return _failed(exc)
        return _created(self_subject_review(user_of(request)))

    def document(doc: KubeObject) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=jsonutil.dumps(doc), content_type="application/json")

        return handler

    authz, authn = f"/apis/{AUTHORIZATION}/v1", f"/apis/{AUTHENTICATION}/v1"
    table = [
        web.post(f"{authz}/selfsubjectaccessreviews", access),
        web.post(f"{authz}/namespaces/{{namespace}}/localsubjectaccessreviews", local_access),
        web.post(f"{authz}/selfsubjectrulesreviews", rules),
        web.post(f"{authn}/selfsubjectreviews", whoami),
    ]
    for group in RESOURCES:
        table.append(web.get(f"/apis/{group}", document(_api_group(group))))
        table.append(web.get(f"/apis/{group}/v1", document(_resource_list(group))))
    return table
