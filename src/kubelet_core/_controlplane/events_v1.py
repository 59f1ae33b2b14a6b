"""events.k8s.io/v1 Events: a second view of the core v1 Events, over the same objects.

kube-apiserver stores one Event and serves it in both groups, converting field by field
(``note``↔``message``, ``regarding``↔``involvedObject``, ``reportingController``↔
``reportingComponent``, ``deprecatedSource``/``deprecatedFirstTimestamp``/
``deprecatedLastTimestamp``/``deprecatedCount``↔``source``/``firstTimestamp``/
``lastTimestamp``/``count``; ``series``, ``related``, ``action``, ``reason``, ``type``,
``eventTime`` and ``reportingInstance`` keep their names). So an event written by a node
agent through core v1 is listed and watched by an events.k8s.io/v1 client, and back.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.resources import EVENTS, EVENTS_V1

KubeObject = dict[str, Any]

#: events.k8s.io/v1 field -> core v1 field (fields absent here have the same name).
RENAMED = {
    "note": "message",
    "regarding": "involvedObject",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_TO_V1 = {core: v1 for v1, core in RENAMED.items()}
_SELECTOR_PREFIXES = {"regarding.": "involvedObject.", "reportingController": "reportingComponent"}


def to_core(obj: Any) -> Any:
    """An events.k8s.io/v1 Event (or patch result) as the core v1 Event it is stored as."""
    if not isinstance(obj, dict):
        return obj
    out: KubeObject = {"kind": EVENTS.kind, "apiVersion": EVENTS.api_version}
    for key, value in obj.items():
        if key not in ("kind", "apiVersion"):
            out[RENAMED.get(str(key), str(key))] = value
    return out


def from_core(obj: KubeObject) -> KubeObject:
    """A stored core v1 Event as events.k8s.io/v1 shows it."""
    out: KubeObject = {"kind": EVENTS_V1.kind, "apiVersion": EVENTS_V1.api_version}
    for key, value in obj.items():
        if key not in ("kind", "apiVersion"):
            out[_TO_V1.get(key, key)] = value
    return out


def field_selector_to_core(selector: str) -> str:
    """``regarding.name=x`` -> ``involvedObject.name=x`` (and reportingController)."""
    terms = []
    for term in selector.split(","):
        for v1, core in _SELECTOR_PREFIXES.items():
            if term.startswith(v1):
                term = core + term[len(v1) :]
                break
        terms.append(term)
    return ",".join(terms)
