"""Pure functions over pod JSON: keys, validation, fingerprints, QoS, conditions.

The pod key (``namespace/name``) and uid are the node's one object
accessors (:mod:`kubelet_core._apiclient.objects`), named here for pods.

Kept free of I/O so the rules kubelet applies (what counts as a spec change,
which QoS class a pod gets, how Ready is derived from container statuses)
can be read, and tested, in one place.  Every function tolerates malformed
input: the agent sees whatever the API server stored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

from kubelet_core._apiclient.objects import key as pod_key
from kubelet_core._apiclient.objects import meta
from kubelet_core._apiclient.objects import uid as pod_uid
from kubelet_core._provider.base import KubeObject

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "TERMINAL_PHASES",
    "derived_conditions",
    "grace_period",
    "is_deleting",
    "is_terminal",
    "malformed_reason",
    "meta",
    "phase",
    "pod_key",
    "pod_uid",
    "qos_class",
    "spec_fingerprint",
]

TERMINAL_PHASES = ("Succeeded", "Failed")
_FINGERPRINT_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
DEFAULT_GRACE_SECONDS = 30.0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def phase(pod: KubeObject) -> str:
    return str(_dict(pod.get("status")).get("phase") or "")


def is_terminal(pod: KubeObject) -> bool:
    return phase(pod) in TERMINAL_PHASES


def is_deleting(pod: KubeObject) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def grace_period(pod: KubeObject) -> float:
    """deletionGracePeriodSeconds, else terminationGracePeriodSeconds, else 30 s."""
    for value in (
        meta(pod).get("deletionGracePeriodSeconds"),
        _dict(pod.get("spec")).get("terminationGracePeriodSeconds"),
    ):
        if isinstance(value, (int, float)) and value >= 0:
            return float(value)
    return DEFAULT_GRACE_SECONDS


def malformed_reason(pod: KubeObject) -> str | None:
    """Why the agent cannot hand ``pod`` to a provider at all, or None if it can."""
    if not isinstance(pod, dict):
        return "the pod is not an object"
    metadata = pod.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return "metadata.name is missing"
    if not metadata.get("uid"):
        return "metadata.uid is missing"
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return "spec is missing"
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return "spec.containers is missing or empty"
    for field in ("initContainers", "containers"):
        value = spec.get(field, [])
        if not isinstance(value, list):
            return f"spec.{field} is not a list"
        seen: set[str] = set()
        for index, container in enumerate(value):
            if (
                not isinstance(container, dict)
                or not isinstance(container.get("name"), str)
                or not container["name"]
            ):
                return f"spec.{field}[{index}] has no name"
            image = container.get("image")
            if not image:
                return f"spec.{field}[{index}] ({container['name']}) has no image"
            if not isinstance(image, str):
                return f"spec.{field}[{index}] ({container['name']}) image is not a string"
            if container["name"] in seen:
                return f"spec.{field} has two containers named {container['name']!r}"
            seen.add(container["name"])
    return None


def spec_fingerprint(pod: KubeObject) -> str:
    """A digest of what, when changed, makes the provider's ``update_pod`` worth calling."""
    spec = _dict(pod.get("spec"))
    metadata = meta(pod)
    relevant = {
        "containers": spec.get("containers"),
        "initContainers": spec.get("initContainers"),
        "ephemeralContainers": spec.get("ephemeralContainers"),
        "activeDeadlineSeconds": spec.get("activeDeadlineSeconds"),
        "tolerations": spec.get("tolerations"),
        "labels": metadata.get("labels"),
        "annotations": metadata.get("annotations"),
    }
    try:
        # orjson: the watch hands every pod event to the syncer, which fingerprints it;
        # ~6x cheaper than json.dumps(sort_keys=True).  Any deterministic encoding
        # will do: fingerprints are only ever compared with each other.
        encoded = orjson.dumps(relevant, option=_FINGERPRINT_OPTIONS, default=str)
    except TypeError:  # what orjson cannot encode (an integer beyond 64 bits)
        encoded = json.dumps(relevant, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _resources(container: dict[str, Any], kind: str) -> dict[str, Any]:
    return _dict(_dict(container.get("resources")).get(kind))


def qos_class(pod: KubeObject) -> str:
    """Guaranteed, Burstable or BestEffort, by kubelet's rules."""
    spec = _dict(pod.get("spec"))
    containers = [
        c
        for c in _list(spec.get("containers")) + _list(spec.get("initContainers"))
        if isinstance(c, dict)
    ]
    any_set = False
    guaranteed = True
    for container in containers:
        requests = _resources(container, "requests")
        limits = _resources(container, "limits")
        if requests or limits:
            any_set = True
        for resource in ("cpu", "memory"):
            limit = limits.get(resource)
            request = requests.get(resource, limit)
            if limit is None or str(request) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> KubeObject:
    condition: KubeObject = {"type": kind, "status": "True" if ok else "False"}
    if not ok and reason:
        condition["reason"] = reason
    if not ok and message:
        condition["message"] = message
    return condition


def _initialized(
    spec: KubeObject,
    init_statuses: dict[Any, KubeObject],
    main_statuses: dict[Any, KubeObject],
    pod_phase: object,
) -> KubeObject:
    """kubelet's Initialized: no init containers; a Succeeded pod whose init containers
    all reported; a regular container that started; or every init container done
    (exit 0) and every sidecar (restartPolicy Always) started.  A failed init
    container leaves the pod not initialized, whatever its phase."""
    init_specs = [c for c in _list(spec.get("initContainers")) if isinstance(c, dict)]
    names = [c.get("name") for c in init_specs]
    all_reported = all(name in init_statuses for name in names)
    started = any(
        _dict(s).get("started")
        or "running" in _dict(_dict(s).get("state"))
        or "terminated" in _dict(_dict(s).get("state"))
        for s in main_statuses.values()
    )
    if not init_specs or (pod_phase == "Succeeded" and all_reported) or started:
        return _condition("Initialized", True, "", "")
    unknown = [name for name in names if name not in init_statuses]
    incomplete = []
    for container in init_specs:
        name = container.get("name")
        reported = init_statuses.get(name)
        if reported is None:
            continue
        if container.get("restartPolicy") == "Always":
            done = bool(reported.get("started"))
        else:
            terminated = _dict(_dict(reported.get("state")).get("terminated"))
            done = bool(terminated) and terminated.get("exitCode") == 0
        if not done:
            incomplete.append(name)
    if not unknown and not incomplete:
        return _condition("Initialized", True, "", "")
    message = ""
    if unknown:
        message = f"containers with unknown status: [{' '.join(str(n) for n in unknown)}]"
    if incomplete:
        message = f"containers with incomplete status: [{' '.join(str(n) for n in incomplete)}]"
    return _condition("Initialized", False, "ContainersNotInitialized", message)


def derived_conditions(pod: KubeObject, status: KubeObject) -> list[KubeObject]:
    """Initialized, ContainersReady and Ready as kubelet derives them (no timestamps)."""
    spec = _dict(pod.get("spec"))
    spec_main = [c.get("name") for c in _list(spec.get("containers")) if isinstance(c, dict)]
    init_statuses = {
        s.get("name"): s for s in _list(status.get("initContainerStatuses")) if isinstance(s, dict)
    }
    main_statuses = {
        s.get("name"): s for s in _list(status.get("containerStatuses")) if isinstance(s, dict)
    }
    pod_phase = status.get("phase")

    init_condition = _initialized(spec, init_statuses, main_statuses, pod_phase)

    if pod_phase == "Succeeded":
        ready_condition = _condition("ContainersReady", False, "PodCompleted")
        return [init_condition, ready_condition, {**ready_condition, "type": "Ready"}]

    unready = [name for name in spec_main if not _dict(main_statuses.get(name)).get("ready")]
    containers_ready = _condition(
        "ContainersReady",
        not unready,
        "ContainersNotReady",
        f"containers with unready status: [{' '.join(str(n) for n in unready)}]",
    )
    ready = dict(containers_ready, type="Ready")
    gates = [
        g.get("conditionType") for g in _list(spec.get("readinessGates")) if isinstance(g, dict)
    ]
    if not unready and gates:
        existing = {
            c.get("type"): c.get("status")
            for c in _list(_dict(pod.get("status")).get("conditions"))
            if isinstance(c, dict)
        }
        missing = [g for g in gates if existing.get(g) != "True"]
        if missing:
            ready = _condition(
                "Ready",
                False,
                "ReadinessGatesNotReady",
                f"corresponding condition of pod readiness gate {missing[0]!r} "
                "does not exist or is not True",
            )
    return [init_condition, containers_ready, ready]
