"""pods/log: proxy the request to the kubelet that runs the pod, as kube-apiserver does.

The pod's node gives the address (status.addresses, InternalIP first) and the port
(status.daemonEndpoints.kubeletEndpoint.Port); the request goes to the kubelet API's
``/containerLogs/{namespace}/{pod}/{container}`` with the log options as query
parameters, authenticated with the control plane's kubelet-client certificate, and the
body is streamed back unchanged (so ``kubectl logs -f`` follows). Like kube-apiserver
without ``--kubelet-certificate-authority``, the kubelet's serving certificate is not
verified. Errors are answered as Status objects with the real server's wording.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import aiohttp
from aiohttp import web

from kubelet_core.controlplane import errors
from kubelet_core.controlplane.errors import ApiError
from kubelet_core.controlplane.pki import PKI
from kubelet_core.controlplane.resources import NODES
from kubelet_core.controlplane.store import Store

KubeObject = dict[str, Any]
_LOG_OPTIONS = (
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "tailLines",
    "limitBytes",
    "insecureSkipTLSVerifyBackend",
)


def kubelet_address(node: KubeObject) -> tuple[str, int] | None:
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    for kind in ("InternalIP", "ExternalIP", "Hostname"):
        for addr in addresses:
            if addr.get("type") == kind and addr.get("address") and port:
                return str(addr["address"]), int(port)
    return None


class KubeletLogProxy:
    """A LogHandler for the Api: streams container logs from the pod's kubelet."""

    def __init__(self, store: Store, pki: PKI) -> None:
        self.store = store
        self.pki = pki
        self._ssl: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            pair = self.pki.issue(
                "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                organizations=("system:masters",),
            )
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(str(pair.cert_path), str(pair.key_path))
            self._ssl = ctx
        return self._ssl

    async def __call__(self, request: web.Request, pod: KubeObject) -> web.StreamResponse:
        meta = pod["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        names += [c.get("name") for c in spec.get("initContainers") or []]
        container = request.query.get("container", "")
        if not container:
            if len(spec.get("containers") or []) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(str(n) for n in names)}]"
                )
            container = str(names[0])
        elif container not in names:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        node_name = spec.get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        node = self.store.get(NODES, "", node_name)
        target = kubelet_address(node.obj) if node is not None else None
        if target is None:
            raise ApiError(
                503, "ServiceUnavailable", f"no kubelet endpoint is known for node {node_name}"
            )
        host, port = target
        host = f"[{host}]" if ":" in host else host
        params = {k: v for k, v in request.query.items() if k in _LOG_OPTIONS}
        url = f"https://{host}:{port}/containerLogs/{namespace}/{name}/{container}"
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))
        try:
            upstream = await session.get(url, params=params, ssl=self._context())
        except (aiohttp.ClientError, OSError) as exc:
            await session.close()
            raise ApiError(500, "InternalError", f'Get "{url}": {exc}') from exc
        try:
            if upstream.status != 200:
                body = await upstream.read()
                raise ApiError(
                    upstream.status,
                    "BadRequest" if upstream.status < 500 else "InternalError",
                    body.decode(errors="replace").strip(),
                )
            response = web.StreamResponse(
                headers={"Content-Type": upstream.headers.get("Content-Type", "text/plain")}
            )
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await response.write_eof()
            return response
        finally:
            upstream.release()
            await session.close()
