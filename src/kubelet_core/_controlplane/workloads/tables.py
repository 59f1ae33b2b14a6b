"""``kubectl get`` columns of the workload types, as kube-apiserver's printers fill them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._controlplane.resources import (
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    REPLICASETS,
)
from kubelet_core._controlplane.workloads.podutil import (
    containers_images,
    format_selector,
    replicas_of,
)

KubeObject = dict[str, Any]
Column = tuple[str, str, int, str]
Row = list[Any]
Printer = tuple[list[Column], Callable[[KubeObject], Row]]


def _age() -> Callable[[KubeObject], str]:
    from kubelet_core._controlplane.tables import age

    return lambda o: age(o["metadata"].get("creationTimestamp"))


def _wide(spec: KubeObject, template: KubeObject | None) -> Row:
    names, images = containers_images(template or {})
    return [names, images, format_selector(spec.get("selector"))]


_WIDE: list[Column] = [
    ("Containers", "string", 1, ""),
    ("Images", "string", 1, ""),
    ("Selector", "string", 1, ""),
]
_NAME: Column = ("Name", "string", 0, "name")
_AGE: Column = ("Age", "string", 0, "")


def _deployment(o: KubeObject) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [
        o["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{replicas_of(o)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age()(o),
        *_wide(spec, spec.get("template")),
    ]


def _replicaset(o: KubeObject) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [
        o["metadata"]["name"],
        replicas_of(o),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age()(o),
        *_wide(spec, spec.get("template")),
    ]


def _daemonset(o: KubeObject) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [
        o["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
        _age()(o),
        *_wide(spec, spec.get("template")),
    ]


def job_state(o: KubeObject) -> str:
    """The STATUS column: the first of Complete, Failed, Terminating, Suspended, ... that holds."""
    true = {
        c.get("type")
        for c in (o.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }
    if "Complete" in true:
        return "Complete"
    if "Failed" in true:
        return "Failed"
    if o["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for state in ("SuccessCriteriaMet", "FailureTarget", "Suspended"):
        if state in true:
            return state
    return "Running"


def _job(o: KubeObject) -> Row:
    from kubelet_core._controlplane.tables import human_duration

    spec, status = o.get("spec") or {}, o.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        from kubelet_core._controlplane.registry import now

        stop = end or parse_time(now())
        assert stop is not None
        duration = human_duration((stop - start).total_seconds())
    return [
        o["metadata"]["name"],
        job_state(o),
        completions,
        duration,
        _age()(o),
        *_wide(spec, spec.get("template")),
    ]


def _cronjob(o: KubeObject) -> Row:
    from kubelet_core._controlplane.tables import age

    spec, status = o.get("spec") or {}, o.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    last = status.get("lastScheduleTime")
    return [
        o["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        age(last) if last else "<none>",
        _age()(o),
        *_wide(job_spec, job_spec.get("template")),
    ]


def _revision(o: KubeObject) -> Row:
    ref = next((r for r in o["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if ref is not None:
        group = str(ref.get("apiVersion", "")).split("/")[0]
        controller = f"{str(ref.get('kind', '')).lower()}.{group}/{ref.get('name')}"
    return [o["metadata"]["name"], controller, o.get("revision", 0), _age()(o)]


PRINTERS: dict[str, Printer] = {
    DEPLOYMENTS.key: (
        [
            _NAME,
            ("Ready", "string", 0, ""),
            ("Up-to-date", "string", 0, ""),
            ("Available", "string", 0, ""),
            _AGE,
            *_WIDE,
        ],
        _deployment,
    ),
    REPLICASETS.key: (
        [
            _NAME,
            ("Desired", "integer", 0, ""),
            ("Current", "integer", 0, ""),
            ("Ready", "integer", 0, ""),
            _AGE,
            *_WIDE,
        ],
        _replicaset,
    ),
    DAEMONSETS.key: (
        [
            _NAME,
            ("Desired", "integer", 0, ""),
            ("Current", "integer", 0, ""),
            ("Ready", "integer", 0, ""),
            ("Up-to-date", "integer", 0, ""),
            ("Available", "integer", 0, ""),
            ("Node Selector", "string", 0, ""),
            _AGE,
            *_WIDE,
        ],
        _daemonset,
    ),
    JOBS.key: (
        [
            _NAME,
            ("Status", "string", 0, ""),
            ("Completions", "string", 0, ""),
            ("Duration", "string", 0, ""),
            _AGE,
            *_WIDE,
        ],
        _job,
    ),
    CRONJOBS.key: (
        [
            _NAME,
            ("Schedule", "string", 0, ""),
            ("Timezone", "string", 0, ""),
            ("Suspend", "boolean", 0, ""),
            ("Active", "integer", 0, ""),
            ("Last Schedule", "string", 0, ""),
            _AGE,
            *_WIDE,
        ],
        _cronjob,
    ),
    CONTROLLERREVISIONS.key: (
        [
            _NAME,
            ("Controller", "string", 0, ""),
            ("Revision", "integer", 0, ""),
            _AGE,
        ],
        _revision,
    ),
}
