"""events/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import INT32, MICRO_TIME, STRING, TIME, fields
from kubelet_core._controlplane.schemas import core, meta

PKG = "io.k8s.api.events.v1"

EVENT_SERIES = fields(go_name="EventSeries", package=PKG, count=INT32, lastObservedTime=MICRO_TIME)
EVENT = fields(
    go_name="Event",
    package=PKG,
    metadata=meta.OBJECT_META,
    eventTime=MICRO_TIME,
    series=EVENT_SERIES,
    reportingController=STRING,
    reportingInstance=STRING,
    action=STRING,
    reason=STRING,
    regarding=core.OBJECT_REFERENCE,
    related=core.OBJECT_REFERENCE,
    note=STRING,
    type=STRING,
    deprecatedSource=core.EVENT_SOURCE,
    deprecatedFirstTimestamp=TIME,
    deprecatedLastTimestamp=TIME,
    deprecatedCount=INT32,
)
