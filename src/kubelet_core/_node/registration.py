"""Register the Node: create it, or reconcile an existing one without clobbering others.

An existing Node (a restarted agent, or one pre-created by an operator) keeps
the labels, taints and conditions other controllers wrote: only our labels
are set (a JSON merge patch adds keys, never removes them), our taints are
merged by key+effect, and the write carries the resourceVersion it was
computed from, so a concurrent change makes it fail with 409 and be redone
on a fresh read instead of being overwritten.  Status fields are written by
:mod:`kubelet_core._node.status` through the ``status`` subresource.
"""

from __future__ import annotations

import asyncio

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, node_path
from kubelet_core._apiclient.objects import meta, resource_version
from kubelet_core._node.description import NodeDescription
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)


async def register_node(api: KubeApi, description: NodeDescription) -> KubeObject:
    """Create or reconcile the Node; retries until the API server answers."""
    backoff = Backoff(0.2, 7.0, jitter=0.2)
    while True:
        try:
            return await _register_once(api, description)
        except ApiError as error:
            if not (error.retryable or error.status == 409):
                raise
            delay = backoff.next()
            log.warning(
                "node registration failed, retrying",
                node=description.name,
                error=str(error),
                retry_in=round(delay, 2),
            )
            await asyncio.sleep(delay)


async def _register_once(api: KubeApi, description: NodeDescription) -> KubeObject:
    try:
        existing = await api.get(node_path(description.name))
    except ApiError as error:
        if error.status != 404:
            raise
        created = await api.create(node_path(), description.new_node())
        log.info("node created", node=description.name)
        return created
    labels = meta(existing).get("labels") or {}
    taints = (existing.get("spec") or {}).get("taints") or []
    wanted_taints = description.merged_taints(taints)
    label_changes = {k: v for k, v in description.labels.items() if labels.get(k) != v}
    if not label_changes and wanted_taints == taints:
        log.info("node already registered", node=description.name)
        return existing
    patch: KubeObject = {
        "metadata": {
            "resourceVersion": resource_version(existing) or None,
            "labels": label_changes,
        },
        "spec": {"taints": wanted_taints},
    }
    updated = await api.patch(node_path(description.name), patch)
    log.info("node updated", node=description.name, labels=sorted(label_changes))
    return updated
