"""Admission on the node: does a pod fit before it is handed to the provider?

Why the node checks at all: the scheduler is not the only way onto a node.
A pod created with ``spec.nodeName`` already set never meets a scheduler, so
without a check of its own a node runs whatever is bound to it (130 pods on a
node advertising ``pods: 110``).  Kubelet admits every pod itself before
running it (its predicate admit handler, ``GeneralPredicates``, whose resource
part is the scheduler's ``noderesources`` fit), and so does this module, with
kubelet's rules and wording:

* a pod fits when one more pod stays within allocatable ``pods`` and each
  resource it requests (cpu, memory, ephemeral-storage, hugepages and other
  ``kubernetes.io/`` resources, extended resources the node advertises) is at
  most allocatable minus what the pods admitted before it request; an
  extended resource the node does not advertise is a cluster-level one and is
  ignored, as kubelet does;
* a pod's request is kubelet's effective request: the sum over its containers,
  raised to the largest init container (each plus the restartable "sidecar"
  init containers started before it, which keep running), pod-level
  ``spec.resources`` where set, plus ``spec.overhead``; a container's missing
  request defaults to its limit, as the API server's defaulting does;
* the first shortfall, in kubelet's order (pods, cpu, memory,
  ephemeral-storage, then the others), names the rejection: reason
  ``OutOfpods``, ``OutOfcpu``, ``OutOfmemory``, ``OutOf<resource>``; the
  message is kubelet's ``Node didn't have enough resource: <name>, requested:
  N, used: N, capacity: N`` (cpu in millicores, the rest in whole units), and
  the pod's status message is that behind ``Pod was rejected: ``;
* "used" is what the admitted pods that have not finished request: a pod is
  held from admission until it is terminal (Succeeded/Failed), stopped after
  its deletion, or gone; a rejected pod is never held and never retried;
* pods are admitted one at a time in the order the node learns of them, the
  initial list (and a relist) oldest first (:func:`admission_order`).

A pod whose RuntimeClass names a handler the node does not serve is
rejected before its resources are counted, as kubelet fails such a pod's
sandbox (CRI-O's wording, ``RuntimeHandler "x" not supported``): the handler
is resolved by ``handler_of`` (pod -> handler, None when it cannot tell), by
default from the ``runtime-handler.wasmlet.dev/<handler>`` nodeSelector that
the RuntimeClass admission merged into the pod.

Allocatable is the node's own ``NodeDescription.allocatable()``, the value it
writes to ``status.allocatable``: one source of truth for what the node
advertises and what it admits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

import structlog

from kubelet_core._pods import podutil
from kubelet_core._provider.base import RUNTIME_HANDLER_LABEL_PREFIX, KubeObject
from kubelet_core._quantity import parse_quantity

log = structlog.get_logger(__name__)

#: Kubelet's reasons for the resources it names itself; any other is "OutOf" + name.
_CORE = ("cpu", "memory", "ephemeral-storage")
#: Pod-level ``spec.resources`` may set these (and ``hugepages-*``).
_POD_LEVEL = ("cpu", "memory")
_REJECTED_PREFIX = "Pod was rejected: "

Requests = dict[str, int]


@dataclasses.dataclass(frozen=True)
class Rejection:
    """Why a pod may not run here: kubelet's reason and message."""

    reason: str
    message: str

    @property
    def status_message(self) -> str:
        """The pod's ``status.message`` (the event carries the bare message)."""
        return _REJECTED_PREFIX + self.message


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_extended(name: str) -> bool:
    """A resource outside ``kubernetes.io``: only counted if the node advertises it."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _is_counted(name: str) -> bool:
    """Whether the scheduler's fit counts a request for ``name`` at all."""
    return (
        name in _CORE
        or name.startswith(("hugepages-", "attachable-volumes-"))
        or "kubernetes.io/" in name
        or _is_extended(name)
    )


def _units(name: str, value: Fraction) -> int:
    """Kubelet's integer for a quantity: millicores for cpu, else the value, rounded up."""
    return math.ceil(value * 1000) if name == "cpu" else math.ceil(value)


def _quantities(raw: Any) -> dict[str, Fraction]:
    """A ResourceList as fractions; ValueError for a quantity that is not one."""
    return {str(name): parse_quantity(value) for name, value in _dict(raw).items()}


def _requests_of(resources: Any) -> dict[str, Fraction]:
    """A container's (or the pod's) requests, missing ones defaulted to the limits."""
    requests = _quantities(_dict(resources).get("requests"))
    for name, limit in _quantities(_dict(resources).get("limits")).items():
        requests.setdefault(name, limit)
    return requests


def _add(total: dict[str, Fraction], more: Mapping[str, Fraction]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, Fraction(0)) + value


def _raise_to(total: dict[str, Fraction], other: Mapping[str, Fraction]) -> None:
    for name, value in other.items():
        if value > total.get(name, Fraction(0)):
            total[name] = value


def pod_requests(pod: KubeObject) -> dict[str, Fraction]:
    """The pod's effective requests, as kubelet and the scheduler compute them.

    Raises ValueError for a malformed quantity.
    """
    spec = _dict(pod.get("spec"))
    total: dict[str, Fraction] = {}
    for container in _list(spec.get("containers")):
        _add(total, _requests_of(_dict(container).get("resources")))
    sidecars: dict[str, Fraction] = {}  # restartable init containers started so far
    init_peak: dict[str, Fraction] = {}
    for raw in _list(spec.get("initContainers")):
        container = _dict(raw)
        requests = _requests_of(container.get("resources"))
        if container.get("restartPolicy") == "Always":
            _add(total, requests)  # a sidecar keeps running next to the app containers
            _add(sidecars, requests)
            _raise_to(init_peak, sidecars)
        else:
            running = dict(sidecars)
            _add(running, requests)
            _raise_to(init_peak, running)
    _raise_to(total, init_peak)
    for name, value in _quantities(_dict(spec.get("resources")).get("requests")).items():
        if name in _POD_LEVEL or name.startswith("hugepages-"):
            total[name] = value
    _add(total, _quantities(spec.get("overhead")))
    return total


def _created(pod: KubeObject) -> str:
    # RFC 3339 UTC timestamps in one format sort as strings; a missing one sorts first.
    return str(podutil.meta(pod).get("creationTimestamp") or "")


def admission_order(pods: Iterable[KubeObject]) -> list[KubeObject]:
    """``pods`` oldest first (kubelet sorts its initial list by creation time); ties keep order."""
    return sorted(pods, key=_created)


class PodAdmission:
    """Decides, pod by pod, whether it fits what this node has left.

    ``allocatable`` returns the node's ``status.allocatable`` (quantity strings);
    it is read at each decision, so it is whatever the node advertises now.
    """

    def __init__(
        self,
        allocatable: Callable[[], Mapping[str, str]],
        *,
        runtime_handlers: Iterable[str] = (),
        handler_of: Callable[[KubeObject], str | None] | None = None,
    ) -> None:
        self._allocatable = allocatable
        self._handlers = frozenset(runtime_handlers)  # empty: the node checks no handler
        self._handler_of = handler_of or handler_from_selector
        self._held: dict[str, Requests] = {}  # pod UID -> its requests, in kubelet units
        # Their sum, kept as pods come and go (summing every held pod at each admission
        # made admitting n pods cost n^2), and how many held pods name each resource.
        self._total: Requests = {}
        self._naming: dict[str, int] = {}
        #: The last allocatable seen and its parse (it changes rarely; parsing is ~10 us).
        self._parsed: tuple[tuple[tuple[str, str], ...], Requests] | None = None

    def __contains__(self, uid: object) -> bool:
        return uid in self._held

    def __len__(self) -> int:
        return len(self._held)

    def used(self) -> Requests:
        """What the held pods request in total (kubelet units), plus their count as ``pods``."""
        total: Requests = {"pods": len(self._held)}
        for name, value in self._total.items():
            total[name] = total.get(name, 0) + value
        return total

    def _add_held(self, uid: str, requests: Requests) -> None:
        self._held[uid] = requests
        for name, value in requests.items():
            self._total[name] = self._total.get(name, 0) + value
            self._naming[name] = self._naming.get(name, 0) + 1

    def _capacity(self) -> Requests:
        allocatable = tuple(self._allocatable().items())
        if self._parsed is not None and self._parsed[0] == allocatable:
            return dict(self._parsed[1])
        capacity: Requests = {}
        parsed_all = True
        for name, value in allocatable:
            try:
                capacity[name] = _units(name, parse_quantity(value))
            except ValueError:
                parsed_all = False  # not kept: the warning stays at every decision
                log.warning("ignoring an unparsable allocatable quantity", resource=name)
        if parsed_all:
            self._parsed = (allocatable, dict(capacity))
        return capacity

    def admit(self, pod: KubeObject) -> Rejection | None:
        """Hold ``pod`` if it fits (None), else say why not; a held pod is admitted again."""
        uid = podutil.pod_uid(pod)
        if uid in self._held:
            return None
        if self._handlers:
            refused = runtime_handler_rejection(pod, self._handler_of(pod), self._handlers)
            if refused is not None:
                return refused
        capacity = self._capacity()
        try:
            requests = _counted(pod, capacity)
        except ValueError as error:
            return Rejection(
                "UnexpectedAdmissionError", f"the pod's resources are invalid: {error}"
            )
        rejection = self._shortfall(requests, capacity)
        if rejection is not None:
            return rejection
        self._add_held(uid, requests)
        return None

    def hold(self, pod: KubeObject) -> None:
        """Count ``pod`` without asking: it already runs (adopted after a restart)."""
        uid = podutil.pod_uid(pod)
        if uid in self._held:
            return
        try:
            requests = _counted(pod, self._capacity())
        except ValueError:
            requests = {}
        self._add_held(uid, requests)

    def release(self, uid: str) -> None:
        """The pod finished, was stopped or is gone: what it requested is free again."""
        requests = self._held.pop(uid, None)
        for name, value in (requests or {}).items():
            if self._naming[name] == 1:
                del self._naming[name], self._total[name]
            else:
                self._naming[name] -= 1
                self._total[name] -= value

    def _shortfall(self, requests: Requests, capacity: Requests) -> Rejection | None:
        used = self.used()
        allowed = capacity.get("pods", 0)
        if used["pods"] + 1 > allowed:
            return _insufficient("pods", 1, used["pods"], allowed)
        others = sorted(name for name in requests if name not in _CORE)
        for name in (*_CORE, *others):
            wanted = requests.get(name, 0)
            if wanted > 0 and wanted > capacity.get(name, 0) - used.get(name, 0):
                return _insufficient(name, wanted, used.get(name, 0), capacity.get(name, 0))
        return None


def _counted(pod: KubeObject, capacity: Requests) -> Requests:
    """The requests of ``pod`` the fit checks, in kubelet units (ValueError: bad quantity)."""
    return {
        name: _units(name, value)
        for name, value in pod_requests(pod).items()
        if _is_counted(name) and (not _is_extended(name) or name in capacity)
    }


def _insufficient(name: str, requested: int, used: int, capacity: int) -> Rejection:
    return Rejection(
        f"OutOf{name}",
        f"Node didn't have enough resource: {name}, requested: {requested}, "
        f"used: {used}, capacity: {capacity}",
    )


def handler_from_selector(pod: KubeObject) -> str | None:
    """The handler of the pod's RuntimeClass, from the nodeSelector its admission merged in."""
    selector = _dict(_dict(pod.get("spec")).get("nodeSelector"))
    for key, value in selector.items():
        if str(key).startswith(RUNTIME_HANDLER_LABEL_PREFIX) and value == "true":
            return str(key)[len(RUNTIME_HANDLER_LABEL_PREFIX) :]
    return None


def runtime_handler_rejection(
    pod: KubeObject, handler: str | None, served: frozenset[str]
) -> Rejection | None:
    """Why a pod's RuntimeClass cannot run here, if it names a handler the node lacks.

    A pod without ``runtimeClassName`` runs with the node's default handler; one
    whose handler could not be resolved (None) is let through: the API server's
    admission has checked that its class exists.
    """
    name = _dict(pod.get("spec")).get("runtimeClassName")
    if not name or handler is None or handler in served:
        return None
    return Rejection(
        "FailedCreatePodSandBox",
        f'Failed to create pod sandbox: RuntimeHandler "{handler}" not supported '
        f"(RuntimeClass {name}; this node serves {', '.join(sorted(served))})",
    )
