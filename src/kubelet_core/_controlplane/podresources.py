"""What a pod asks for and may use, summed as the scheduler, LimitRanger and quota do.

One computation for the three: a pod's effective request of a resource is the
larger of the sum over its app containers and the largest init container (init
containers run one at a time, before the app containers), plus the
RuntimeClass overhead (``spec.overhead``); limits the same way.  A resource no
container names is absent, not zero, because "no limit" and "limit 0" differ.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubelet_core._quantity import parse_quantity

KubeObject = dict[str, Any]
Resources = dict[str, Fraction]


def quantities(values: Any) -> Resources:
    """A ResourceList as numbers; values that are not quantities are left out."""
    result: Resources = {}
    if isinstance(values, dict):
        for name, text in values.items():
            try:
                result[str(name)] = parse_quantity(text)
            except (ValueError, TypeError):
                continue
    return result


def containers(pod: KubeObject, field: str = "containers") -> list[KubeObject]:
    spec = pod.get("spec") or {}
    return [c for c in spec.get(field) or [] if isinstance(c, dict)]


def container_resources(container: KubeObject) -> tuple[Resources, Resources]:
    """``(requests, limits)`` of one container."""
    resources = container.get("resources") or {}
    return quantities(resources.get("requests")), quantities(resources.get("limits"))


def _effective(pod: KubeObject, which: int) -> Resources:
    total: Resources = {}
    for c in containers(pod):
        for name, value in container_resources(c)[which].items():
            total[name] = total.get(name, Fraction(0)) + value
    for c in containers(pod, "initContainers"):
        for name, value in container_resources(c)[which].items():
            total[name] = max(total.get(name, Fraction(0)), value)
    for name, value in quantities((pod.get("spec") or {}).get("overhead")).items():
        if name in total:
            total[name] += value
    return total


def pod_requests(pod: KubeObject) -> Resources:
    return _effective(pod, 0)


def pod_limits(pod: KubeObject) -> Resources:
    return _effective(pod, 1)


def qos_class(pod: KubeObject) -> str:
    """Guaranteed (cpu and memory limits equal to requests everywhere), BestEffort, Burstable."""
    everything = containers(pod) + containers(pod, "initContainers")
    any_set = False
    guaranteed = True
    for c in everything:
        requests, limits = container_resources(c)
        compute = {"cpu", "memory"}
        if any(requests.get(r) for r in compute) or any(limits.get(r) for r in compute):
            any_set = True
        for r in compute:
            if r not in limits or requests.get(r, limits[r]) != limits[r]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
