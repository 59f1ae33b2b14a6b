"""PodDisruptionBudget (``policy/v1``): validation and the disruption controller.

A budget says how many of the pods it selects must stay up (``minAvailable``)
or may be down (``maxUnavailable``), as a number or a percentage.  The
controller keeps each budget's status current, as kube-controller-manager's
disruption controller does: ``expectedPods``, ``currentHealthy`` (Ready, not
being deleted, not just evicted), ``desiredHealthy``, ``disruptionsAllowed``
and the ``DisruptionAllowed`` condition (``SufficientPods`` /
``InsufficientPods``); the eviction subresource (``eviction``) reads and
decrements it.  ``expectedPods`` is the number of selected pods (kube asks
their controllers' scale for percentages and ``maxUnavailable``; pods here
may have none).  A pod the eviction API just admitted is listed in
``status.disruptedPods`` and not counted healthy until it is gone, so a
second eviction cannot spend the same disruption; entries older than two
minutes are dropped, as upstream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any

from kubelet_core._controlplane.background import BackgroundController
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.resources import PODDISRUPTIONBUDGETS as PDBS
from kubelet_core._controlplane.resources import PODS
from kubelet_core._controlplane.selectors import selector_matches, selector_requirements
from kubelet_core._controlplane.store import Event, Store

if TYPE_CHECKING:  # the registry imports this module
    from kubelet_core._controlplane.registry import Registry

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]
log = logging.getLogger(__name__)
EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")
DISRUPTED_POD_TIMEOUT = dt.timedelta(minutes=2)


def _int_or_percent(value: Any) -> tuple[int, bool] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value, False
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1]), True
    if isinstance(value, str) and value.isdigit():
        return int(value), False
    return None


def pdb_errors(obj: KubeObject) -> list[Cause]:
    """Field errors of a PodDisruptionBudget, worded as kube-apiserver words them."""
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(
            (
                "spec",
                "FieldValueInvalid",
                "Invalid value: minAvailable and maxUnavailable cannot be both set",
            )
        )
    for field in ("minAvailable", "maxUnavailable"):
        value = spec.get(field)
        if value is None:
            continue
        parsed = _int_or_percent(value)
        path = f"spec.{field}"
        if parsed is None:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{value}": a valid percent string must be a numeric string '
                    "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                    "'[0-9]+%')",
                )
            )
        elif parsed[0] < 0:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {value}: must be greater than or equal to 0",
                )
            )
        elif parsed[1] and parsed[0] > 100:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{value}": must not be greater than 100%',
                )
            )
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        supported = ", ".join(f'"{p}"' for p in EVICTION_POLICIES)
        causes.append(
            (
                "spec.unhealthyPodEvictionPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: {supported}',
            )
        )
    selector = spec.get("selector")
    if selector is not None and selector_requirements(selector) is None:
        causes.append(("spec.selector", "FieldValueInvalid", "Invalid value: not a label selector"))
    return causes


def pod_ready(pod: KubeObject) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def budgets_for(store: Store, pod: KubeObject) -> list[KubeObject]:
    """The budgets in the pod's namespace whose selector selects it."""
    meta = pod["metadata"]
    return [
        e.obj
        for e in store.entries(PDBS, meta.get("namespace") or "")
        if selector_matches((e.obj.get("spec") or {}).get("selector"), meta.get("labels"))
    ]


def selected_pods(store: Store, pdb: KubeObject) -> list[KubeObject]:
    selector = (pdb.get("spec") or {}).get("selector")
    return [
        e.obj
        for e in store.entries(PODS, pdb["metadata"]["namespace"])
        if selector_matches(selector, e.obj["metadata"].get("labels"))
    ]


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def compute_status(pdb: KubeObject, pods: list[KubeObject], now: dt.datetime) -> KubeObject:
    """The budget's status from the pods it selects (kube's disruption controller)."""
    spec = pdb.get("spec") or {}
    old = pdb.get("status") or {}
    live = {p["metadata"]["name"]: p for p in pods}
    disrupted = {}
    for name, when in (old.get("disruptedPods") or {}).items():
        pod = live.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        try:
            seen = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError:
            continue
        if seen + DISRUPTED_POD_TIMEOUT > now:
            disrupted[name] = when
    expected = len(pods)
    healthy = sum(
        1
        for p in pods
        if pod_ready(p)
        and not p["metadata"].get("deletionTimestamp")
        and p["metadata"]["name"] not in disrupted
    )
    desired = 0
    if spec.get("maxUnavailable") is not None:
        value, percent = _int_or_percent(spec["maxUnavailable"]) or (0, False)
        unavailable = math.ceil(expected * value / 100) if percent else value
        desired = max(0, expected - unavailable)
    elif spec.get("minAvailable") is not None:
        value, percent = _int_or_percent(spec["minAvailable"]) or (0, False)
        desired = math.ceil(expected * value / 100) if percent else value
    allowed = healthy - desired if expected > 0 else 0
    allowed = max(0, allowed)
    generation = pdb["metadata"].get("generation", 1)
    reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
    status_value = "True" if allowed > 0 else "False"
    previous = next(
        (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None
    )
    transition = _stamp(now)
    if previous is not None and previous.get("status") == status_value:
        transition = previous.get("lastTransitionTime") or transition
    status: KubeObject = {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": status_value,
                "reason": reason,
                "message": "",
                "observedGeneration": generation,
                "lastTransitionTime": transition,
            }
        ],
    }
    if disrupted:
        status["disruptedPods"] = disrupted
    return status


class DisruptionController(BackgroundController):
    """Recomputes the status of the budgets a pod or budget change touches."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._dirty: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for entry in self.store.entries(PDBS):
            self._dirty.add(_key(entry.obj))
        self.store.add_listener(self._on_event)
        self._launch("disruption")
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        if event.rt is PDBS and event.type != "DELETED":
            self._dirty.add(_key(event.obj))
        elif event.rt is PODS:
            for pod in (event.prev, event.obj):
                if pod is not None:
                    self._dirty |= {_key(b) for b in budgets_for(self.store, pod)}
        else:
            return
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                await self._sync(*self._dirty.pop())

    async def _sync(self, namespace: str, name: str) -> None:
        entry = self.store.get(PDBS, namespace, name)
        if entry is None:
            return
        pdb = entry.obj
        status = compute_status(pdb, selected_pods(self.store, pdb), dt.datetime.now(dt.UTC))
        if pdb.get("status") == status:
            return
        try:
            await self.registry.update(
                PDBS, namespace, name, dict(pdb, status=status), subresource="status"
            )
        except ApiError as exc:  # changed meanwhile (an eviction): its event brings it back
            log.debug("budget %s/%s: %s", namespace, name, exc.message)


def _key(obj: KubeObject) -> tuple[str, str]:
    return obj["metadata"].get("namespace") or "", obj["metadata"]["name"]
