"""The ClusterRole aggregation controller (kube-controller-manager's clusterrole-aggregation).

A ClusterRole with an ``aggregationRule`` owns no rules of its own: its rules are the
union of the rules of every other ClusterRole its ``clusterRoleSelectors`` select, in
name order, each rule once. This is how ``admin``, ``edit`` and ``view`` grow: label a
ClusterRole ``rbac.authorization.k8s.io/aggregate-to-view: "true"`` and its rules
appear in ``view`` (and, since ``view`` is labelled to aggregate into ``edit``, and
``edit`` into ``admin``, in those too).

The controller reacts to ClusterRole store events and re-aggregates every aggregated
role until nothing changes, so chains settle whatever the order of events. It writes
through the registry: the control plane's own controllers are not subject to HTTP
authorization or escalation checks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.resources import CLUSTERROLES
from kubelet_core._controlplane.selectors import labels_match, selector_requirements
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
log = logging.getLogger(__name__)


def aggregated_rules(role: KubeObject, roles: list[KubeObject]) -> list[KubeObject]:
    """The rules ``role``'s aggregationRule collects from ``roles``."""
    selectors = [
        reqs
        for s in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ()
        if (reqs := selector_requirements(s)) is not None  # an invalid one selects nothing
    ]
    name = role["metadata"]["name"]
    rules: list[KubeObject] = []
    for other in sorted(roles, key=lambda r: str(r["metadata"]["name"])):
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(labels_match(reqs, labels) for reqs in selectors):
            continue
        rules.extend(r for r in other.get("rules") or () if r not in rules)
    return rules


class ClusterRoleAggregator(BackgroundController):
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Aggregate once (so the default roles are complete before serving), then follow."""
        await self.aggregate()
        self.store.add_listener(self._on_event)
        self._launch("clusterrole-aggregation")

    def _on_event(self, event: Event) -> None:
        if event.rt is CLUSTERROLES:
            self._changed.set()

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self.aggregate()
            except Exception:
                log.exception("ClusterRole aggregation failed")

    async def aggregate(self) -> None:
        """Update every aggregated ClusterRole until all are settled (chains included)."""
        for _ in range(16):  # a chain deeper than this is a cycle
            roles = [entry.obj for entry in self.store.entries(CLUSTERROLES)]
            changed = False
            for role in roles:
                if not role.get("aggregationRule"):
                    continue
                rules = aggregated_rules(role, roles)
                if rules == list(role.get("rules") or ()):
                    continue
                try:
                    await self.registry.update(
                        CLUSTERROLES, "", role["metadata"]["name"], {**role, "rules": rules}
                    )
                    changed = True
                except ApiError as exc:  # changed meanwhile: the next event brings it back
                    log.debug("aggregating %s: %s", role["metadata"]["name"], exc.message)
            if not changed:
                return
