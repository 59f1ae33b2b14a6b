"""What the workload controllers read off pods and label selectors, defined once.

A pod is *active* while it is neither terminal nor being deleted; *ready* when its Ready
condition is True; *available* when it has been ready for ``minReadySeconds``. Label
selectors (``matchLabels`` + ``matchExpressions``) are matched and printed the way
apimachinery's ``metav1.LabelSelector`` helpers do. Pod templates are hashed into the
``pod-template-hash`` / ``controller-revision-hash`` labels with FNV-1a over the
canonical JSON, encoded in kube's "safe" alphabet (no vowels, so no words).
"""

from __future__ import annotations

import json
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time

KubeObject = dict[str, Any]
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def is_terminal(pod: KubeObject) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: KubeObject) -> bool:
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def ready_since(pod: KubeObject) -> str | None:
    """The Ready condition's lastTransitionTime when Ready is True, else None."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return str(cond.get("lastTransitionTime") or "")
            return None
    return None


def is_ready(pod: KubeObject) -> bool:
    return is_active(pod) and ready_since(pod) is not None


def is_available(pod: KubeObject, min_ready_seconds: int, now: float) -> bool:
    since = ready_since(pod)
    if since is None or not is_active(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    moment = parse_time(since)
    return moment is not None and moment.timestamp() + min_ready_seconds <= now


def selector_matches(selector: KubeObject | None, labels: dict[str, str] | None) -> bool:
    """metav1.LabelSelectorAsSelector(...).Matches; an empty selector matches everything."""
    if not selector:
        return False  # a nil selector selects nothing
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def format_selector(selector: KubeObject | None) -> str:
    """metav1.FormatLabelSelector: ``app=web,tier in (a,b)``; ``<none>`` when empty."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = ",".join(sorted(expr.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(str(op), f"{key} {op}")
        )
    return ",".join(parts) or "<none>"


def template_hash(template: Any, collisions: int = 0) -> str:
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collisions:
        data += str(collisions).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    out = []
    while value:
        value, rest = divmod(value, len(_SAFE))
        out.append(_SAFE[rest])
    return "".join(out[:10]) or _SAFE[0]


def containers_images(template: KubeObject) -> tuple[str, str]:
    """The CONTAINERS and IMAGES columns of the wide workload tables."""
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def replicas_of(obj: KubeObject, default: int = 1) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return int(value) if isinstance(value, int) else default
