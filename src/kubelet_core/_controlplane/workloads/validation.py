"""Validation of the workload types, with kube-apiserver's field paths and wording.

The rules clients meet: a selector is required and must select the template's labels,
replica counts are non-negative, templates need containers, Job pods restart Never or
OnFailure, CronJob schedules parse; on update, selectors are immutable (and a Job's
template and completions too), each failure a 422 cause on the field kube names. A
ControllerRevision needs ``data``, a non-negative ``revision``, and keeps its data.
"""

from __future__ import annotations

import json
from typing import Any

from kubelet_core._controlplane.resources import (
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    REPLICASETS,
    ResourceType,
)
from kubelet_core._controlplane.validation import (
    INVALID,
    REQUIRED,
    Cause,
    _container_errors,
    immutable_errors,
)
from kubelet_core._controlplane.workloads.cron import ScheduleError, parse_schedule
from kubelet_core._controlplane.workloads.job_validation import (
    indexed_hostname_errors,
    job_spec_errors,
    job_spec_update_errors,
)
from kubelet_core._controlplane.workloads.podutil import selector_matches

KubeObject = dict[str, Any]
_SELECTED = (DEPLOYMENTS, REPLICASETS, DAEMONSETS, JOBS)
_UNSUPPORTED = "FieldValueNotSupported"


def _non_negative(path: str, value: Any) -> list[Cause]:
    if value is None:
        return []
    if not isinstance(value, int) or value < 0:
        return [(path, INVALID, f"Invalid value: {value}: must be greater than or equal to 0")]
    return []


def _template_errors(path: str, template: Any, *, job: bool) -> list[Cause]:
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return [(f"{path}.spec.containers", REQUIRED, "Required value")]
    spec = template["spec"]
    if not spec.get("containers"):
        return [(f"{path}.spec.containers", REQUIRED, "Required value")]
    names: set[str] = set()
    causes = _container_errors(f"{path}.spec.containers", spec["containers"], names)
    policy = spec.get("restartPolicy")
    if job and policy not in ("OnFailure", "Never"):
        causes.append(
            (
                f"{path}.spec.restartPolicy",
                REQUIRED if policy is None else _UNSUPPORTED,
                'Required value: valid values: "OnFailure", "Never"'
                if policy is None
                else f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        )
    elif not job and policy not in (None, "Always"):
        causes.append(
            (
                f"{path}.spec.restartPolicy",
                _UNSUPPORTED,
                f'Unsupported value: "{policy}": supported values: "Always"',
            )
        )
    return causes


def _selector_errors(spec: KubeObject, template: Any) -> list[Cause]:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        return [("spec.selector", REQUIRED, "Required value")]
    labels = ((template or {}).get("metadata") or {}).get("labels") or {}
    if not selector_matches(selector, labels):
        return [
            (
                "spec.template.metadata.labels",
                INVALID,
                f"Invalid value: {json.dumps(labels, separators=(',', ':'))}: "
                "`selector` does not match template `labels`",
            )
        ]
    return []


def _revision_errors(obj: KubeObject) -> list[Cause]:
    causes: list[Cause] = []
    if obj.get("data") is None:
        causes.append(("data", REQUIRED, "Required value: data is mandatory"))
    return causes + _non_negative("revision", obj.get("revision", 0))


def workload_errors(rt: ResourceType, obj: KubeObject) -> list[Cause]:
    if rt is CONTROLLERREVISIONS:
        return _revision_errors(obj)
    spec = obj.get("spec")
    if rt not in (*_SELECTED, CRONJOBS):
        return []
    if not isinstance(spec, dict):
        return [("spec", REQUIRED, "Required value")]
    causes: list[Cause] = []
    if rt in _SELECTED:
        causes += _selector_errors(spec, spec.get("template"))
        causes += _template_errors("spec.template", spec.get("template"), job=rt is JOBS)
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        causes += _non_negative(f"spec.{field}", spec.get(field))
    if rt is JOBS:
        for field in ("parallelism", "completions", "backoffLimit"):
            causes += _non_negative(f"spec.{field}", spec.get(field))
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
            causes.append(
                (
                    "spec.activeDeadlineSeconds",
                    INVALID,
                    f"Invalid value: {deadline}: must be greater than 0",
                )
            )
        causes += job_spec_errors(spec)
        causes += indexed_hostname_errors(obj, spec)
    if rt is CRONJOBS:
        causes += _cronjob_errors(spec)
    return causes


def _cronjob_errors(spec: KubeObject) -> list[Cause]:
    schedule = spec.get("schedule")
    if not schedule:
        return [("spec.schedule", REQUIRED, "Required value")]
    causes: list[Cause] = []
    try:
        parse_schedule(str(schedule), spec.get("timeZone"))
    except ScheduleError as exc:
        field = "spec.timeZone" if exc.time_zone else "spec.schedule"
        value = spec.get("timeZone") if exc.time_zone else schedule
        causes.append((field, INVALID, f'Invalid value: "{value}": {exc}'))
    policy = spec.get("concurrencyPolicy")
    if policy not in ("Allow", "Forbid", "Replace"):
        causes.append(
            (
                "spec.concurrencyPolicy",
                _UNSUPPORTED,
                f'Unsupported value: "{policy}": supported values: "Allow", "Forbid", "Replace"',
            )
        )
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    causes += _template_errors("spec.jobTemplate.spec.template", job_spec.get("template"), job=True)
    causes += job_spec_errors(job_spec, "spec.jobTemplate.spec")
    return causes


def workload_update_errors(rt: ResourceType, old: KubeObject, new: KubeObject) -> list[Cause]:
    if rt is CONTROLLERREVISIONS:
        return immutable_errors("data", old.get("data"), new.get("data"))
    if rt not in _SELECTED:
        return []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = immutable_errors("spec.selector", old_spec.get("selector"), new_spec.get("selector"))
    if rt is JOBS:
        if not old_spec.get("suspend"):
            causes += immutable_errors(
                "spec.template", old_spec.get("template"), new_spec.get("template")
            )
        causes += job_spec_update_errors(old_spec, new_spec)
    return causes
