"""Server-side printing: ``meta.k8s.io/v1`` Table responses, as ``kubectl get`` requests.

kubectl asks for ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` and prints the
cells it gets back; without tables it can only show NAME and AGE. Columns and cell
contents follow kube-apiserver's printers for the served types (pods: READY, STATUS,
RESTARTS, AGE and, with ``-o wide``, IP, NODE...), including its age formatting. In watch
streams each event becomes a one-row Table; only the first carries column definitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kubelet_core._controlplane import jsonutil
from kubelet_core._controlplane.resources import (
    CERTIFICATESIGNINGREQUESTS,
    CONFIGMAPS,
    EVENTS,
    LEASES,
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    SERVICEACCOUNTS,
    ResourceType,
)

KubeObject = dict[str, Any]
Column = tuple[str, str, int, str]  # (name, type, priority, format)
Row = list[Any]


def human_duration(seconds: float) -> str:
    """The same rounding as k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - then).total_seconds())


def _created(obj: KubeObject) -> str:
    return age(obj["metadata"].get("creationTimestamp"))


NAME: Column = ("Name", "string", 0, "name")
AGE: Column = ("Age", "string", 0, "")


def _csr_row(csr: KubeObject) -> Row:
    """kubectl's columns: the signer, the requestor, the requested duration, the condition."""
    spec = csr.get("spec") or {}
    conditions = [
        str(c.get("type"))
        for c in (csr.get("status") or {}).get("conditions") or []
        if c.get("status", "True") == "True"
    ]
    if (csr.get("status") or {}).get("certificate"):
        conditions.append("Issued")
    seconds = spec.get("expirationSeconds")
    return [
        csr["metadata"]["name"],
        _created(csr),
        spec.get("signerName", ""),
        spec.get("username", ""),
        human_duration(seconds) if isinstance(seconds, int) else "<none>",
        ",".join(conditions) or "Pending",
    ]


def _terminated_reason(terminated: KubeObject, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _init_status(spec: KubeObject, status: KubeObject) -> tuple[str | None, int, int]:
    """(Init:... reason or None, restarts, ready sidecars), as kubectl's printPod walks them."""
    specs = {c.get("name"): c for c in spec.get("initContainers") or [] if isinstance(c, dict)}
    total = len(specs)
    restarts = ready = 0
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(container.get("restartCount") or 0)
        if (specs.get(container.get("name")) or {}).get("restartPolicy") == "Always":
            ready += 1 if container.get("ready") else 0  # a sidecar: counted with the apps
            continue
        state = container.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting") or {}
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if terminated is not None:
            return _terminated_reason(terminated, "Init:"), restarts, ready
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}", restarts, ready
        return f"Init:{index}/{total}", restarts, ready
    return None, restarts, ready


def _has_condition(status: KubeObject, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def pod_status_reason(pod: KubeObject) -> tuple[str, int, int, int]:
    """(STATUS, ready, total, restarts) exactly as kubectl's printPod computes them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    reason = status.get("reason") or phase
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    sidecars = sum(
        1
        for c in spec.get("initContainers") or []
        if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    )
    total = len(spec.get("containers") or []) + sidecars
    init_reason, restarts, ready = _init_status(spec, status)
    if init_reason is not None:
        reason = init_reason
    if init_reason is None or _has_condition(status, "Initialized"):
        restarts = 0
        running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount") or 0)
            state = container.get("state") or {}
            waiting = state.get("waiting") or {}
            terminated = state.get("terminated")
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts


def _pod_row(pod: KubeObject) -> Row:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    reason, ready, total, restarts = pod_status_reason(pod)
    gates = spec.get("readinessGates") or []
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts,
        _created(pod),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"{len(gates)}/{len(gates)}" if gates else "<none>",
    ]


def _node_row(node: KubeObject) -> Row:
    status = node.get("status") or {}
    states = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            states.append({"True": "Ready", "False": "NotReady"}.get(cond.get("status"), "Unknown"))
    if not states:
        states.append("Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    labels = node["metadata"].get("labels") or {}
    roles = sorted(
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k
    )
    if labels.get("kubernetes.io/role"):
        roles.append(labels["kubernetes.io/role"])
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), "<none>")

    return [
        node["metadata"]["name"],
        ",".join(states),
        ",".join(roles) or "<none>",
        _created(node),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_row(ev: KubeObject) -> Row:
    involved = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev["metadata"].get("creationTimestamp")
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    source = (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or ""
    return [
        age(last),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        source,
        ev.get("message", ""),
        age(first),
        int(ev.get("count") or 1),
        ev["metadata"]["name"],
    ]


PRINTERS: dict[str, tuple[list[Column], Callable[[KubeObject], Row]]] = {
    PODS.key: (
        [
            NAME,
            ("Ready", "string", 0, ""),
            ("Status", "string", 0, ""),
            ("Restarts", "string", 0, ""),
            AGE,
            ("IP", "string", 1, ""),
            ("Node", "string", 1, ""),
            ("Nominated Node", "string", 1, ""),
            ("Readiness Gates", "string", 1, ""),
        ],
        _pod_row,
    ),
    NODES.key: (
        [
            NAME,
            ("Status", "string", 0, ""),
            ("Roles", "string", 0, ""),
            AGE,
            ("Version", "string", 0, ""),
            ("Internal-IP", "string", 1, ""),
            ("External-IP", "string", 1, ""),
            ("OS-Image", "string", 1, ""),
            ("Kernel-Version", "string", 1, ""),
            ("Container-Runtime", "string", 1, ""),
        ],
        _node_row,
    ),
    NAMESPACES.key: (
        [NAME, ("Status", "string", 0, ""), AGE],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), _created(o)],
    ),
    EVENTS.key: (
        [
            ("Last Seen", "string", 0, ""),
            ("Type", "string", 0, ""),
            ("Reason", "string", 0, ""),
            ("Object", "string", 0, ""),
            ("Subobject", "string", 1, ""),
            ("Source", "string", 1, ""),
            ("Message", "string", 0, ""),
            ("First Seen", "string", 1, ""),
            ("Count", "integer", 1, ""),
            ("Name", "string", 1, "name"),
        ],
        _event_row,
    ),
    CONFIGMAPS.key: (
        [NAME, ("Data", "integer", 0, ""), AGE],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _created(o),
        ],
    ),
    SECRETS.key: (
        [NAME, ("Type", "string", 0, ""), ("Data", "integer", 0, ""), AGE],
        lambda o: [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), _created(o)],
    ),
    SERVICEACCOUNTS.key: (
        [NAME, ("Secrets", "integer", 0, ""), AGE],
        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), _created(o)],
    ),
    CERTIFICATESIGNINGREQUESTS.key: (
        [
            NAME,
            AGE,
            ("SignerName", "string", 0, ""),
            ("Requestor", "string", 0, ""),
            ("RequestedDuration", "string", 0, ""),
            ("Condition", "string", 0, ""),
        ],
        _csr_row,
    ),
    LEASES.key: (
        [NAME, ("Holder", "string", 0, ""), AGE],
        lambda o: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity", ""),
            _created(o),
        ],
    ),
}


from kubelet_core._controlplane.workloads.tables import PRINTERS as _WORKLOAD_PRINTERS  # noqa: E402

PRINTERS.update(_WORKLOAD_PRINTERS)


def _columns(columns: list[Column]) -> list[KubeObject]:
    return [
        {"name": name, "type": typ, "format": fmt, "description": name, "priority": prio}
        for name, typ, prio, fmt in columns
    ]


class TableRenderer:
    @staticmethod
    def wants_table(request: web.Request) -> bool:
        accept = request.headers.get("Accept", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    @staticmethod
    def _row_object(request: web.Request, obj: KubeObject) -> KubeObject | None:
        mode = request.query.get("includeObject", "Metadata")
        if mode == "None":
            return None
        if mode == "Object":
            return obj
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }

    def _rows(
        self, request: web.Request, rt: ResourceType, objects: list[KubeObject]
    ) -> list[KubeObject]:
        _cols, printer = PRINTERS[rt.key]
        rows = []
        for obj in objects:
            row: KubeObject = {"cells": printer(obj)}
            embedded = self._row_object(request, obj)
            if embedded is not None:
                row["object"] = embedded
            rows.append(row)
        return rows

    def table(
        self, request: web.Request, rt: ResourceType, objects: list[KubeObject], rv: str
    ) -> KubeObject:
        columns, _printer = PRINTERS[rt.key]
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv},
            "columnDefinitions": _columns(columns),
            "rows": self._rows(request, rt, objects),
        }

    def watch_transform(
        self, request: web.Request, rt: ResourceType
    ) -> Callable[[str, KubeObject, bytes], bytes]:
        first = [True]
        columns = _columns(PRINTERS[rt.key][0])

        def transform(kind: str, obj: KubeObject, data: bytes) -> bytes:
            if kind == "BOOKMARK":
                return data
            table = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                "columnDefinitions": columns if first[0] else [],
                "rows": self._rows(request, rt, [obj]),
            }
            first[0] = False
            return jsonutil.dumps(table)

        return transform
