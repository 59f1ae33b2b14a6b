"""The control plane's side of ``kubectl logs`` and ``exec``: find the pod's kubelet, ask it.

``GET /api/v1/namespaces/{ns}/pods/{name}/log`` is answered as kube-apiserver does:
the container defaults to the pod's only one (a pod with several and none named
is a 400 with the real server's wording), the pod's node gives the kubelet's
address (``InternalIP``, else ``ExternalIP``, else ``Hostname``) and port
(``status.daemonEndpoints.kubeletEndpoint.Port``), and the log options are passed
through to ``/containerLogs/{ns}/{pod}/{container}`` unchanged.  The answer is
copied chunk by chunk, so ``kubectl logs -f`` follows live.

``pods/exec``, ``pods/attach`` and ``pods/portforward`` go to the same kubelet
(:func:`proxy_pod_stream`), which answers them before any upgrade.

The control plane talks to kubelets as ``kube-apiserver-kubelet-client`` (group
``system:masters``) with a client certificate its own CA signs, so a kubelet's
SubjectAccessReview allows it.  Like kube-apiserver without
``--kubelet-certificate-authority``, it does not verify the kubelet's serving
certificate (kubelets make self-signed ones) unless a CA is given.

:class:`KubeletClient` is also what :mod:`kubelet_core._controlplane.metrics_api`
uses to read each node's ``/stats/summary``.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509

from kubelet_core import _pki
from kubelet_core._controlplane.pki import write_file
from kubelet_core._controlplane.resources import BY_KEY
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]

#: ``(plural, namespace, name) -> object or None``: reads one object from the store
#: (plural is ``pods`` or ``nodes``; namespace is ``""`` for nodes).
ObjectGetter = Callable[[str, str, str], KubeObject | None]

KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUPS = ("system:masters",)
DEFAULT_KUBELET_PORT = 10250
LOG_ROUTE = "/api/v1/namespaces/{namespace}/pods/{name}/log"
#: Query parameters of a log request that kubelet understands.
LOG_PARAMS = (
    "follow",
    "tailLines",
    "timestamps",
    "sinceSeconds",
    "sinceTime",
    "limitBytes",
    "previous",
)
_ADDRESS_PREFERENCE = ("InternalIP", "ExternalIP", "Hostname")


# -- the kubelet-client certificate -------------------------------------------------------


def _valid_for(cert_file: Path, ca: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError):
        return False
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return cert.issuer == ca.subject and remaining > datetime.timedelta(days=1)


def ensure_kubelet_client_certificate(
    ca_cert_file: Path,
    ca_key_file: Path,
    directory: Path,
    *,
    common_name: str = KUBELET_CLIENT_CN,
    groups: Iterable[str] = KUBELET_CLIENT_GROUPS,
    validity: datetime.timedelta = datetime.timedelta(days=365),
) -> tuple[Path, Path]:
    """``(cert, key)`` of the control plane's client identity towards kubelets.

    Made once in ``directory`` (``kubelet-client.crt``/``.key``), signed by the
    control plane CA, and reused while valid and issued by that same CA.
    """
    ca = x509.load_pem_x509_certificate(ca_cert_file.read_bytes())
    cert_file = directory / "kubelet-client.crt"
    key_file = directory / "kubelet-client.key"
    if key_file.exists() and _valid_for(cert_file, ca):
        return cert_file, key_file
    ca_key = _pki.load_key(ca_key_file.read_bytes())
    key = _pki.new_key()
    leaf = _pki.Leaf(common_name, tuple(groups), ("client auth",), lifetime=validity)
    cert = _pki.sign(leaf, key.public_key(), ca_key, ca)
    directory.mkdir(parents=True, exist_ok=True)
    write_file(key_file, _pki.key_pem(key), private=True)
    cert_file.write_bytes(_pki.cert_pem(cert))
    return cert_file, key_file


# -- reaching a kubelet -------------------------------------------------------------------


class KubeletUnreachable(Exception):
    """The node has no usable address, or its kubelet did not answer."""


def kubelet_endpoint(node: KubeObject) -> tuple[str, int]:
    """The kubelet's host and port, from a Node's addresses and daemon endpoints."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or ()}
    host = next((addresses[t] for t in _ADDRESS_PREFERENCE if addresses.get(t)), None)
    if not host:
        name = (node.get("metadata") or {}).get("name", "")
        raise KubeletUnreachable(f'node "{name}" has no address to reach its kubelet')
    endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    port = int(endpoint.get("Port") or DEFAULT_KUBELET_PORT)
    return str(host), port


class KubeletClient:
    """HTTPS to kubelets with the control plane's kubelet-client certificate."""

    def __init__(
        self, cert_file: Path, key_file: Path, *, kubelet_ca_file: Path | None = None
    ) -> None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if kubelet_ca_file is not None:
            context.load_verify_locations(cafile=str(kubelet_ca_file))
        else:  # as kube-apiserver without --kubelet-certificate-authority
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(cert_file, key_file)
        self._ssl = context
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=0),
                auto_decompress=False,
            )
        return self._session

    @staticmethod
    def url(node: KubeObject, path: str) -> str:
        host, port = kubelet_endpoint(node)
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{port}{path}"

    @contextlib.asynccontextmanager
    async def open(
        self,
        node: KubeObject,
        path: str,
        *,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
        timeout: float | None = None,
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A request (GET unless told) to the node's kubelet; the caller reads the body."""
        url = self.url(node, path)
        limits = aiohttp.ClientTimeout(total=timeout, sock_connect=10)
        try:
            response = await self._get_session().request(
                method, url, params=params, headers=headers, timeout=limits
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise KubeletUnreachable(f"{url}: {type(error).__name__}: {error}") from error
        try:
            yield response
        finally:
            response.release()

    async def get_json(self, node: KubeObject, path: str, *, timeout: float = 10) -> Any:
        async with self.open(node, path, timeout=timeout) as response:
            if response.status != 200:
                text = (await response.text()).strip()
                raise KubeletUnreachable(f"{path}: HTTP {response.status}: {text[:200]}")
            return await response.json(content_type=None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# -- GET .../pods/{name}/log ----------------------------------------------------------------


def status_response(code: int, reason: str, message: str, **details: Any) -> web.Response:
    """A ``kind: Status`` failure, as kubectl expects from the API server."""
    body: KubeObject = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


def _names(containers: Iterable[KubeObject]) -> list[str]:
    return [str(c.get("name", "")) for c in containers]


def choose_container(pod: KubeObject, requested: str) -> str | web.Response:
    """The container to read: the one named, or the pod's only one; else a 400 Status."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = _names(spec.get("containers") or ())
    init = _names(spec.get("initContainers") or ())
    ephemeral = _names(spec.get("ephemeralContainers") or ())
    if requested:
        if requested not in (*containers, *init, *ephemeral):
            return status_response(
                400, "BadRequest", f"container {requested} is not valid for pod {name}"
            )
        return requested
    if len(containers) == 1:
        return containers[0]
    if not containers:
        return status_response(
            400, "BadRequest", f"a container name must be specified for pod {name}"
        )
    choices = " ".join(containers)
    message = f"a container name must be specified for pod {name}, choose one of: [{choices}]"
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    return status_response(400, "BadRequest", message)


async def serve_pod_log(
    request: web.Request, *, get_object: ObjectGetter, client: KubeletClient
) -> web.StreamResponse:
    """Handle ``GET /api/v1/namespaces/{namespace}/pods/{name}/log`` from the path alone."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pod = get_object("pods", namespace, name)
    if pod is None:
        return status_response(404, "NotFound", f'pods "{name}" not found', name=name, kind="pods")
    return await proxy_pod_log(request, pod, get_object=get_object, client=client)


async def proxy_pod_log(
    request: web.Request, pod: KubeObject, *, get_object: ObjectGetter, client: KubeletClient
) -> web.StreamResponse:
    """Stream ``pod``'s log from its kubelet (the pod has been read already)."""
    namespace, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
    container = choose_container(pod, request.query.get("container", ""))
    if isinstance(container, web.Response):
        return container
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:  # not scheduled yet: the real server answers an empty log
        return web.Response(text="", content_type="text/plain")
    node = get_object("nodes", "", node_name)
    if node is None:
        return status_response(
            404, "NotFound", f'nodes "{node_name}" not found', name=node_name, kind="nodes"
        )
    params = {key: request.query[key] for key in LOG_PARAMS if key in request.query}
    path = f"/containerLogs/{namespace}/{name}/{container}"
    try:
        async with client.open(node, path, params=params) as upstream:
            if upstream.status != 200:
                text = (await upstream.text()).strip()
                return status_response(upstream.status, _reason(upstream.status), text)
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except aiohttp.ClientError:
                return response  # the kubelet went away mid-stream: end the log there
            await response.write_eof()
            return response
    except KubeletUnreachable as error:
        return status_response(500, "InternalError", f"Get {error}")


# -- pods/exec, pods/attach, pods/portforward ---------------------------------------------

#: The pod subresources kube-apiserver hands on to the kubelet as upgraded streams,
#: with the kubelet's path for each.
STREAM_SUBRESOURCES = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
#: The options kube-apiserver passes on (PodExecOptions, PodAttachOptions,
#: PodPortForwardOptions): the container goes into the path.
_STREAM_PARAMS = ("command", "stdin", "stdout", "stderr", "tty", "ports")
#: The headers a kubelet needs to answer (or refuse) the upgrade.
_UPGRADE_HEADERS = (
    "Connection",
    "Upgrade",
    "X-Stream-Protocol-Version",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
)


async def proxy_pod_stream(
    request: web.Request,
    pod: KubeObject,
    subresource: str,
    *,
    get_object: ObjectGetter,
    client: KubeletClient,
) -> web.StreamResponse:
    """Hand ``pods/{exec,attach,portforward}`` to the pod's kubelet, as kube-apiserver does.

    The request goes to ``/exec/{ns}/{pod}/{container}`` (``/attach/...``,
    ``/portForward/{ns}/{pod}``) with the same method, options and upgrade
    headers.  A kubelet that refuses answers without switching protocols, and
    its answer -- status and body, a ``Status`` kubectl prints -- is relayed
    as it is, as kube-apiserver's upgrade-aware proxy does.  Switched streams
    are not spliced: wasm nodes never switch, and an upgrade the kubelet
    accepts is answered 501 here.
    """
    namespace, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
    path = f"/{STREAM_SUBRESOURCES[subresource]}/{namespace}/{name}"
    if subresource != "portforward":
        container = choose_container(pod, request.query.get("container", ""))
        if isinstance(container, web.Response):
            return container
        path += f"/{container}"
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        return status_response(400, "BadRequest", f"pod {name} does not have a host assigned")
    node = get_object("nodes", "", node_name)
    if node is None:
        return status_response(
            404, "NotFound", f'nodes "{node_name}" not found', name=node_name, kind="nodes"
        )
    params = [(k, v) for k, v in request.query.items() if k in _STREAM_PARAMS]
    headers = {h: request.headers[h] for h in _UPGRADE_HEADERS if h in request.headers}
    try:
        async with client.open(
            node, path, method=request.method, params=params, headers=headers, timeout=30
        ) as upstream:
            if upstream.status == 101:
                return status_response(
                    501,
                    "NotImplemented",
                    f"the embedded control plane does not splice {subresource} streams",
                )
            body = await upstream.read()
            content_type = upstream.headers.get("Content-Type", "text/plain")
            return web.Response(
                status=upstream.status, body=body, headers={"Content-Type": content_type}
            )
    except (KubeletUnreachable, aiohttp.ClientError) as error:
        return status_response(500, "InternalError", f"error dialing backend: {error}")


def pod_stream_handler(
    get_object: ObjectGetter, client: KubeletClient
) -> Callable[[web.Request, KubeObject, str], Awaitable[web.StreamResponse]]:
    """A ``ControlPlane`` hook: ``(request, pod, subresource) -> the kubelet's answer``."""

    async def handler(
        request: web.Request, pod: KubeObject, subresource: str
    ) -> web.StreamResponse:
        return await proxy_pod_stream(
            request, pod, subresource, get_object=get_object, client=client
        )

    return handler


def _reason(code: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        501: "NotImplemented",
    }.get(code, "InternalError")


def pod_log_route(get_object: ObjectGetter, client: KubeletClient) -> web.RouteDef:
    """The aiohttp route for pod logs, ready for ``app.add_routes([...])``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await serve_pod_log(request, get_object=get_object, client=client)

    return web.get(LOG_ROUTE, handler)


def pod_log_handler(
    get_object: ObjectGetter, client: KubeletClient
) -> Callable[[web.Request, KubeObject], Awaitable[web.StreamResponse]]:
    """A ``ControlPlane(log_handler=...)`` hook: ``(request, pod) -> streamed log``."""

    async def handler(request: web.Request, pod: KubeObject) -> web.StreamResponse:
        return await proxy_pod_log(request, pod, get_object=get_object, client=client)

    return handler


def store_reader(store: Callable[[], Store | None]) -> ObjectGetter:
    """An :data:`ObjectGetter` over the control plane's store (looked up on each call,
    so it can be made before ``ControlPlane.start`` creates the store)."""

    def get_object(plural: str, namespace: str, name: str) -> KubeObject | None:
        current = store()
        if current is None:
            return None
        entry = current.get(BY_KEY[plural], namespace, name)
        return entry.obj if entry is not None else None

    return get_object
