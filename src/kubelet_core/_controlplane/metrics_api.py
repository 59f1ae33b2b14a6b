"""``metrics.k8s.io/v1beta1``: what metrics-server serves, so ``kubectl top`` works.

Instead of a separate metrics-server scraping every kubelet on a timer, the
control plane reads the nodes' ``/stats/summary`` when asked (with the
kubelet-client certificate, through :class:`~.kubelet_proxy.KubeletClient`) and
answers NodeMetrics and PodMetrics from it.  ``/stats/summary`` already carries
instantaneous CPU (``usageNanoCores``), so one read is enough where
``/metrics/resource`` would need two scrapes to make a rate.  Only the nodes that
matter are asked, concurrently, each with a short timeout; a node that does not
answer is left out, as metrics-server leaves out nodes it failed to scrape.

Also here: the discovery documents of the group (``APIGroup``, ``APIResourceList``
and the aggregated-discovery ``APIGroupDiscovery`` entry), which kubectl reads to
decide that the metrics API exists before it asks for metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiohttp import web

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._controlplane.kubelet_proxy import (
    KubeletClient,
    KubeletUnreachable,
    ObjectGetter,
    status_response,
)
from kubelet_core._controlplane.resources import BY_KEY
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
log = structlog.get_logger(__name__)

#: ``(plural, namespace or None for all) -> objects``: lists ``pods`` or ``nodes``.
ObjectLister = Callable[[str, str | None], Iterable[KubeObject]]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP}/{VERSION}"
#: Reported as the metrics' averaging window (the summary's CPU rate is kubelet's ~10-15 s).
WINDOW = "15s"
SUMMARY_TIMEOUT = 5.0

_RESOURCES = (("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True))


# -- discovery ----------------------------------------------------------------------------


def api_group() -> KubeObject:
    """The group's entry of ``/apis`` (an APIGroupList item) and ``/apis/metrics.k8s.io``."""
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [version],
        "preferredVersion": version,
    }


def api_resource_list() -> KubeObject:
    """``/apis/metrics.k8s.io/v1beta1``."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": name,
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list"],
            }
            for name, kind, namespaced in _RESOURCES
        ],
    }


def group_discovery() -> KubeObject:
    """The group's ``APIGroupDiscovery`` item (aggregated discovery, ``apidiscovery.k8s.io/v2``)."""
    return {
        "metadata": {"name": GROUP},
        "versions": [
            {
                "version": VERSION,
                "freshness": "Current",
                "resources": [
                    {
                        "resource": name,
                        "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                        "scope": "Namespaced" if namespaced else "Cluster",
                        "singularResource": "",
                        "verbs": ["get", "list"],
                    }
                    for name, kind, namespaced in _RESOURCES
                ],
            }
        ],
    }


# -- label selectors (equality and existence, which is what ``kubectl top -l`` uses) -------


def label_filter(selector: str) -> Callable[[dict[str, str] | None], bool]:
    """A matcher for ``k=v``, ``k==v``, ``k!=v``, ``k`` and ``!k`` terms, comma-separated."""
    terms: list[tuple[str, str, str]] = []  # (operator, key, value)
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append(("=", key.strip(), value.lstrip("=").strip()))
        elif term.startswith("!"):
            terms.append(("!", term[1:].strip(), ""))
        else:
            terms.append(("exists", term, ""))

    def matches(labels: dict[str, str] | None) -> bool:
        present = labels or {}
        for operator, key, value in terms:
            ok = {
                "!=": present.get(key) != value,
                "=": present.get(key) == value,
                "!": key not in present,
                "exists": key in present,
            }[operator]
            if not ok:
                return False
        return True

    return matches


# -- metrics ------------------------------------------------------------------------------


def _cpu(nano_cores: int | None) -> str:
    return f"{int(nano_cores or 0)}n"


def _memory(size: int | None) -> str:
    size = int(size or 0)
    return f"{size // 1024}Ki" if size % 1024 == 0 else str(size)


def _metadata(obj: KubeObject, *, namespaced: bool) -> KubeObject:
    source = obj.get("metadata") or {}
    metadata: KubeObject = {"name": source.get("name", ""), "creationTimestamp": rfc3339()}
    if namespaced:
        metadata["namespace"] = source.get("namespace", "")
    if source.get("labels"):
        metadata["labels"] = dict(source["labels"])
    return metadata


def node_metrics(node: KubeObject, summary: KubeObject) -> KubeObject:
    stats = summary.get("node") or {}
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    return {
        "kind": "NodeMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": _metadata(node, namespaced=False),
        "timestamp": cpu.get("time") or rfc3339(),
        "window": WINDOW,
        "usage": {
            "cpu": _cpu(cpu.get("usageNanoCores")),
            "memory": _memory(memory.get("workingSetBytes")),
        },
    }


def pod_metrics(pod: KubeObject, stats: KubeObject) -> KubeObject:
    containers = []
    for container in stats.get("containers") or ():
        cpu, memory = container.get("cpu") or {}, container.get("memory") or {}
        containers.append(
            {
                "name": container.get("name", ""),
                "usage": {
                    "cpu": _cpu(cpu.get("usageNanoCores")),
                    "memory": _memory(memory.get("workingSetBytes")),
                },
            }
        )
    return {
        "kind": "PodMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": _metadata(pod, namespaced=True),
        "timestamp": (stats.get("cpu") or {}).get("time") or rfc3339(),
        "window": WINDOW,
        "containers": containers,
    }


class MetricsApi:
    """The ``metrics.k8s.io`` handlers, over the store and the nodes' kubelets."""

    def __init__(
        self, *, get_object: ObjectGetter, list_objects: ObjectLister, client: KubeletClient
    ) -> None:
        self._get = get_object
        self._list = list_objects
        self._client = client

    async def _summary(self, node: KubeObject) -> KubeObject | None:
        try:
            summary = await self._client.get_json(node, "/stats/summary", timeout=SUMMARY_TIMEOUT)
        except (KubeletUnreachable, ValueError) as error:
            name = (node.get("metadata") or {}).get("name", "")
            log.info("node stats unavailable", node=name, error=str(error))
            return None
        return summary if isinstance(summary, dict) else None

    async def _summaries(self, nodes: Iterable[KubeObject]) -> dict[str, KubeObject]:
        nodes = list(nodes)
        answers = await asyncio.gather(*(self._summary(node) for node in nodes))
        return {
            node["metadata"]["name"]: answer
            for node, answer in zip(nodes, answers, strict=True)
            if answer is not None
        }

    async def _pod_metrics(self, pods: list[KubeObject]) -> list[KubeObject]:
        node_names = {(p.get("spec") or {}).get("nodeName") for p in pods} - {None, ""}
        nodes = [n for n in (self._get("nodes", "", str(name)) for name in node_names) if n]
        summaries = await self._summaries(nodes)
        # Keyed by namespace/name, as metrics-server does: a summary may lag a pod's uid.
        by_ref: dict[tuple[str, str], KubeObject] = {}
        for summary in summaries.values():
            for stats in summary.get("pods") or ():
                ref = stats.get("podRef") or {}
                by_ref[(ref.get("namespace", ""), ref.get("name", ""))] = stats
        items = []
        for pod in pods:
            meta = pod["metadata"]
            stats = by_ref.get((meta.get("namespace", ""), meta["name"]))
            if stats is not None:
                items.append(pod_metrics(pod, stats))
        return items

    async def list_nodes(self, request: web.Request) -> web.Response:
        matches = label_filter(request.query.get("labelSelector", ""))
        nodes = [n for n in self._list("nodes", None) if matches(n["metadata"].get("labels"))]
        summaries = await self._summaries(nodes)
        items = [
            node_metrics(node, summaries[node["metadata"]["name"]])
            for node in nodes
            if node["metadata"]["name"] in summaries
        ]
        return web.json_response(_list("NodeMetricsList", items))

    async def get_node(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        node = self._get("nodes", "", name)
        summary = await self._summary(node) if node is not None else None
        if node is None or summary is None:
            return _not_found("nodemetrics", name)
        return web.json_response(node_metrics(node, summary))

    async def list_pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("namespace")
        matches = label_filter(request.query.get("labelSelector", ""))
        pods = [p for p in self._list("pods", namespace) if matches(p["metadata"].get("labels"))]
        return web.json_response(_list("PodMetricsList", await self._pod_metrics(pods)))

    async def get_pod(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        pod = self._get("pods", namespace, name)
        items = await self._pod_metrics([pod]) if pod is not None else []
        if not items:
            return _not_found("podmetrics", name)
        return web.json_response(items[0])

    def routes(self) -> list[web.RouteDef]:
        """Every route of the group, discovery included, for ``app.add_routes(...)``."""

        async def group(request: web.Request) -> web.Response:
            return web.json_response(api_group())

        async def resources(request: web.Request) -> web.Response:
            return web.json_response(api_resource_list())

        return [
            web.get(f"/apis/{GROUP}", group),
            web.get(PREFIX, resources),
            web.get(f"{PREFIX}/nodes", self.list_nodes),
            web.get(f"{PREFIX}/nodes/{{name}}", self.get_node),
            web.get(f"{PREFIX}/pods", self.list_pods),
            web.get(f"{PREFIX}/namespaces/{{namespace}}/pods", self.list_pods),
            web.get(f"{PREFIX}/namespaces/{{namespace}}/pods/{{name}}", self.get_pod),
        ]


def _list(kind: str, items: list[KubeObject]) -> KubeObject:
    return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}


def _not_found(resource: str, name: str) -> web.Response:
    return status_response(
        404,
        "NotFound",
        f'{resource}.{GROUP} "{name}" not found',
        name=name,
        group=GROUP,
        kind=resource,
    )


def store_lister(store: Callable[[], Store | None]) -> ObjectLister:
    """An :data:`ObjectLister` over the control plane's store (looked up on each call)."""

    def list_objects(plural: str, namespace: str | None) -> list[KubeObject]:
        current = store()
        if current is None:
            return []
        return [entry.obj for entry in current.entries(BY_KEY[plural], namespace)]

    return list_objects
