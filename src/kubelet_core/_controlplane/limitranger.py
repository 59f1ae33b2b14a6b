"""LimitRange (``v1``): its defaulting and validation, and the LimitRanger admission plugin.

A wasm32 module may grow its memory to 4 GiB; a pod without a memory limit may
therefore take that much of a node.  A namespace's LimitRange closes the gap
the way kube-apiserver does it, at pod creation:

* mutating: each container (and init container) that lacks a limit or request
  named by a ``type: Container`` item's ``default`` / ``defaultRequest`` gets
  it, and the pod is annotated ``kubernetes.io/limit-ranger`` with what was set;
* validating: ``min``, ``max`` and ``maxLimitRequestRatio`` of ``Container``
  items per container, of ``Pod`` items on the pod's totals; a violation is a
  403 worded as kube words it (``pods "x" is forbidden: maximum memory usage
  per Container is 1Gi, but limit is 2Gi``).

LimitRange items are defaulted as the v1 defaulter does (a ``default`` from
``max``, a ``defaultRequest`` from ``default`` or else ``min``), so ``max``
alone already bounds every container.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from kubelet_core._controlplane.podresources import (
    Resources,
    container_resources,
    containers,
    pod_limits,
    pod_requests,
)
from kubelet_core._quantity import (
    canonical_quantity,
    format_quantity,
    is_binary,
    parse_quantity,
)

KubeObject = dict[str, Any]
Cause = tuple[str, str, str]
ANNOTATION = "kubernetes.io/limit-ranger"
TYPES = ("Container", "PersistentVolumeClaim", "Pod")
_MAX_MILLI = 2**63 // 1000  # resource.MaxMilliValue


def _items(limit_range: KubeObject) -> list[KubeObject]:
    return [i for i in (limit_range.get("spec") or {}).get("limits") or [] if isinstance(i, dict)]


def default_limit_range(obj: KubeObject) -> None:
    """v1 ``SetDefaults_LimitRangeItem`` for the Container items."""
    for item in _items(obj):
        if item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        default_request = item.setdefault("defaultRequest", {})
        if not isinstance(default, dict) or not isinstance(default_request, dict):
            continue
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            default_request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            default_request.setdefault(key, value)


def limit_range_errors(obj: KubeObject) -> list[Cause]:
    """Field errors of a LimitRange, in kube-apiserver's words."""
    causes: list[Cause] = []
    for i, item in enumerate(_items(obj)):
        path = f"spec.limits[{i}]"
        kind = item.get("type")
        if not kind:
            causes.append((f"{path}.type", "FieldValueRequired", "Required value"))
        elif kind not in TYPES:
            supported = ", ".join(f'"{t}"' for t in TYPES)
            causes.append(
                (
                    f"{path}.type",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{kind}": supported values: {supported}',
                )
            )
        parsed: dict[str, Resources] = {}
        for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            parsed[field] = {}
            for name, text in (item.get(field) or {}).items():
                try:
                    parsed[field][name] = parse_quantity(text)
                except (ValueError, TypeError):
                    causes.append(
                        (
                            f"{path}.{field}[{name}]",
                            "FieldValueInvalid",
                            f'Invalid value: "{text}": quantities must match the regular '
                            "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                        )
                    )
        if kind == "Pod":
            for field in ("default", "defaultRequest"):
                if item.get(field):
                    causes.append(
                        (
                            f"{path}.{field}",
                            "FieldValueForbidden",
                            "Forbidden: may not be specified when `type` is 'Pod'",
                        )
                    )
        causes += _range_errors(path, item, parsed)
    return causes


def _range_errors(path: str, item: KubeObject, parsed: dict[str, Resources]) -> list[Cause]:
    causes: list[Cause] = []

    def text(field: str, name: str) -> str:
        return canonical_quantity(item[field][name])

    def bad(field: str, name: str, why: str) -> None:
        causes.append(
            (
                f"{path}.{field}[{name}]",
                "FieldValueInvalid",
                f'Invalid value: "{text(field, name)}": {why}',
            )
        )

    mins, maxes = parsed["min"], parsed["max"]
    for name, low in mins.items():
        if name in maxes and low > maxes[name]:
            bad(
                "min",
                name,
                f"min value {text('min', name)} is greater than max value {text('max', name)}",
            )
    for field, label in (("default", "default"), ("defaultRequest", "default request")):
        for name, value in parsed[field].items():
            if name in maxes and value > maxes[name]:
                bad(
                    field,
                    name,
                    f"{label} value {text(field, name)} is greater than max "
                    f"value {text('max', name)}",
                )
            if name in mins and mins[name] > value:
                bad(
                    field,
                    name,
                    f"min value {text('min', name)} is greater than {label} "
                    f"value {text(field, name)}",
                )
    for name, request in parsed["defaultRequest"].items():
        default = parsed["default"].get(name)
        if default is not None and request > default:
            bad(
                "defaultRequest",
                name,
                f"default request value {text('defaultRequest', name)} "
                f"is greater than default limit value {text('default', name)}",
            )
    for name, ratio in parsed["maxLimitRequestRatio"].items():
        if ratio < 1:
            bad(
                "maxLimitRequestRatio",
                name,
                f"ratio {text('maxLimitRequestRatio', name)} is less than 1",
            )
    return causes


# -- admission -----------------------------------------------------------------------------
def mutate_pod(pod: KubeObject, ranges: Iterable[KubeObject]) -> None:
    """Apply each LimitRange's container defaults to ``pod`` in place."""
    for limit_range in ranges:
        limits: dict[str, str] = {}
        requests: dict[str, str] = {}
        for item in _items(limit_range):
            if item.get("type") == "Container":
                requests.update(item.get("defaultRequest") or {})
                limits.update(item.get("default") or {})
        if not limits and not requests:
            continue
        notes: list[str] = []
        for field, what in (("containers", "container"), ("initContainers", "init container")):
            for container in containers(pod, field):
                notes += _merge(container, requests, limits, what)
        if notes:
            annotations = pod["metadata"].setdefault("annotations", {})
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _merge(
    container: KubeObject, requests: dict[str, str], limits: dict[str, str], what: str
) -> list[str]:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    notes = []
    for field, defaults, label in (("requests", requests, "request"), ("limits", limits, "limit")):
        current = resources.get(field)
        if not isinstance(current, dict):
            current = {}
        added = sorted(name for name in defaults if name not in current)
        if added:
            resources[field] = {**current, **{name: defaults[name] for name in added}}
            notes.append(f"{', '.join(added)} {label} for {what} {container.get('name', '')}")
    return notes


def pod_violations(pod: KubeObject, ranges: Iterable[KubeObject]) -> list[str]:
    """Each way ``pod`` breaks a LimitRange, worded as kube's LimitRanger words it."""
    errors: list[str] = []
    for limit_range in ranges:
        for item in _items(limit_range):
            kind = str(item.get("type") or "")
            if kind == "Container":
                for field in ("containers", "initContainers"):
                    for container in containers(pod, field):
                        requests, limits = container_resources(container)
                        errors += _violations(kind, item, requests, limits, container)
            elif kind == "Pod":
                errors += _violations(kind, item, pod_requests(pod), pod_limits(pod), None)
    return errors


def _violations(
    kind: str,
    item: KubeObject,
    requests: Resources,
    limits: Resources,
    container: KubeObject | None,
) -> list[str]:
    written_requests, written_limits = _written(container)
    errors = []

    def shown(written: dict[str, Any], numbers: Resources, name: str, like: str) -> str:
        if name in written:
            return canonical_quantity(written[name])
        whole = numbers[name].denominator == 1 and numbers[name] % 1024 == 0
        return format_quantity(numbers[name], binary=is_binary(like) and whole)

    for name, text in sorted((item.get("min") or {}).items()):
        enforced, label = parse_quantity(text), canonical_quantity(text)
        if name not in requests:
            errors.append(f"minimum {name} usage per {kind} is {label}.  No request is specified")
        elif requests[name] < enforced:
            errors.append(
                f"minimum {name} usage per {kind} is {label}, but request is "
                f"{shown(written_requests, requests, name, text)}"
            )
        elif name in limits and limits[name] < enforced:
            errors.append(
                f"minimum {name} usage per {kind} is {label}, but limit is "
                f"{shown(written_limits, limits, name, text)}"
            )
    for name, text in sorted((item.get("max") or {}).items()):
        enforced, label = parse_quantity(text), canonical_quantity(text)
        if name not in limits:
            errors.append(f"maximum {name} usage per {kind} is {label}.  No limit is specified")
        elif limits[name] > enforced:
            errors.append(
                f"maximum {name} usage per {kind} is {label}, but limit is "
                f"{shown(written_limits, limits, name, text)}"
            )
        elif name in requests and requests[name] > enforced:
            errors.append(
                f"maximum {name} usage per {kind} is {label}, but request is "
                f"{shown(written_requests, requests, name, text)}"
            )
    for name, text in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        enforced, label = parse_quantity(text), canonical_quantity(text)
        request, limit = requests.get(name, Fraction(0)), limits.get(name, Fraction(0))
        if not request:
            errors.append(
                f"{name} max limit to request ratio per {kind} is {label}, but no request "
                "is specified or request is 0"
            )
        elif not limit:
            errors.append(
                f"{name} max limit to request ratio per {kind} is {label}, but no limit is "
                "specified or limit is 0"
            )
        elif limit / request > enforced:
            errors.append(
                f"{name} max limit to request ratio per {kind} is {label}, but provided "
                f"ratio is {float(limit / request):f}"
            )
    return errors


def _written(container: KubeObject | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if container is None:
        return {}, {}
    resources = container.get("resources") or {}
    return dict(resources.get("requests") or {}), dict(resources.get("limits") or {})
