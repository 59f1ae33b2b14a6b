"""Defaulting of the workload types, as kube-apiserver's apps/v1 and batch/v1 defaulters.

Runs on create and on update (defaulting happens when a request body is decoded), so a
``kubectl replace`` without a strategy gets the same RollingUpdate 25%/25% a create does.
Pod templates get the PodSpec defaults only (restartPolicy, dnsPolicy, ...): admission
defaults such as the service account or tolerations are applied to pods, not templates.
A Job without ``manualSelector`` gets the generated selector on its uid and the
``batch.kubernetes.io/controller-uid`` / ``job-name`` labels on its template.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.defaults import _default_container
from kubelet_core._controlplane.resources import (
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    REPLICASETS,
    ResourceType,
)

KubeObject = dict[str, Any]
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"


def default_template(template: Any, restart_policy: str | None = "Always") -> None:
    """PodTemplateSpec defaults; Job templates get no restartPolicy (they must choose)."""
    if not isinstance(template, dict):
        return
    spec = template.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    template.setdefault("metadata", {})
    if restart_policy is not None:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, dict):
                _default_container(container)


def _spec(obj: KubeObject) -> KubeObject | None:
    spec = obj.setdefault("spec", {})
    return spec if isinstance(spec, dict) else None


def _deployment(spec: KubeObject) -> None:
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_template(spec.get("template"))


def _daemonset(spec: KubeObject) -> None:
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_template(spec.get("template"))


def default_job_spec(spec: KubeObject) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimitPerIndex") is None:
        spec.setdefault("backoffLimit", 6)
    else:
        spec.setdefault("backoffLimit", 2147483647)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if not spec.get("podFailurePolicy"):
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    else:
        spec.setdefault("podReplacementPolicy", "Failed")
    _default_pod_failure_policy(spec.get("podFailurePolicy"))
    default_template(spec.get("template"), restart_policy=None)


def _default_pod_failure_policy(policy: Any) -> None:
    """An ``onPodConditions`` pattern without a status matches the condition being True."""
    if not isinstance(policy, dict):
        return
    for rule in policy.get("rules") or []:
        for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"


def _job(obj: KubeObject, spec: KubeObject) -> None:
    default_job_spec(spec)
    meta = obj["metadata"]
    template = spec.get("template")
    if spec.get("manualSelector") or not isinstance(template, dict):
        return
    uid, name = meta.get("uid", ""), meta["name"]
    generated = {CONTROLLER_UID: uid}
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": generated}
    tmeta = template.setdefault("metadata", {})
    if isinstance(tmeta, dict):
        labels = tmeta.setdefault("labels", {})
        if isinstance(labels, dict):
            labels.update(
                {CONTROLLER_UID: uid, JOB_NAME: name, "controller-uid": uid, "job-name": name}
            )
    if not meta.get("labels") and isinstance(tmeta, dict) and tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])


def _cronjob(spec: KubeObject) -> None:
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if isinstance(job_spec, dict):
        default_template(job_spec.get("template"), restart_policy=None)


def apply_workload_defaults(rt: ResourceType, obj: KubeObject, *, creating: bool = False) -> None:
    if rt not in (DEPLOYMENTS, REPLICASETS, DAEMONSETS, JOBS, CRONJOBS):
        return  # not a workload: no spec to default (a ConfigMap must not grow one)
    if creating:
        obj.pop("status", None)  # status is the controllers' (PrepareForCreate resets it)
    spec = _spec(obj)
    if spec is None:
        return
    if rt is DEPLOYMENTS:
        _deployment(spec)
    elif rt is REPLICASETS:
        spec.setdefault("replicas", 1)
        default_template(spec.get("template"))
    elif rt is DAEMONSETS:
        _daemonset(spec)
    elif rt is JOBS:
        _job(obj, spec)
    elif rt is CRONJOBS:
        _cronjob(spec)
