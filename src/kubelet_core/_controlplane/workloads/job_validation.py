"""Validation of a Job's completion mode and policies, as kube-apiserver's batch validation.

Indexed Jobs need ``completions``, at most 10^5 ``parallelism``, and a name that still
makes a DNS label with the highest index appended (their pods' hostname);
``backoffLimitPerIndex`` / ``maxFailedIndexes`` need Indexed mode (and each other's
bounds); a ``podFailurePolicy`` needs ``restartPolicy: Never`` and well-formed rules
(one of onExitCodes / onPodConditions, ordered unique exit codes, no 0 with ``In``,
known container names; ``FailIndex`` only with ``backoffLimitPerIndex``); a
``successPolicy`` needs Indexed mode and rules within ``completions``. On update the
mode and the policies are immutable, and an Indexed Job's completions change only in
tandem with its parallelism. Each failure is a 422 cause with kube's field path and text.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from kubelet_core._controlplane.validation import (
    DUPLICATE,
    INVALID,
    REQUIRED,
    Cause,
    immutable_errors,
)
from kubelet_core._provider.names import is_label

KubeObject = dict[str, Any]
_UNSUPPORTED = "FieldValueNotSupported"
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_TOO_MANY = "FieldValueTooMany"
MAX_INDEXED_PARALLELISM = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
HIGH_COMPLETIONS_LIMIT = 10_000  # parallelism and maxFailedIndexes above the soft limit
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_CONDITION_PATTERNS = 20
MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024
ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("False", "True", "Unknown")
REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")


def _shown(value: Any) -> str:
    """A bad value as field.Invalid prints it: strings quoted, numbers bare, else JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return (path, INVALID, f"Invalid value: {_shown(value)}: {detail}")


def _omitted(path: str, detail: str) -> Cause:
    return (path, INVALID, f"Invalid value: {detail}")


def _not_supported(path: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    listed = ", ".join(json.dumps(v) for v in allowed)
    return (path, _UNSUPPORTED, f"Unsupported value: {_shown(value)}: supported values: {listed}")


def _required(path: str, detail: str = "") -> Cause:
    return (path, REQUIRED, f"Required value: {detail}" if detail else "Required value")


def _too_many(path: str, count: int, limit: int) -> Cause:
    return (path, _TOO_MANY, f"Too many: {count}: must have at most {limit} items")


def _go_quoted_list(values: tuple[str, ...]) -> str:
    """Go's ``%q`` of a string slice: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _non_negative(path: str, value: Any) -> list[Cause]:
    if value is None or (isinstance(value, int) and value >= 0):
        return []
    return [_invalid(path, value, "must be greater than or equal to 0")]


def job_spec_errors(spec: KubeObject, path: str = "spec") -> list[Cause]:
    """The completion-mode, per-index and policy rules of ``validateJobSpec``."""
    causes: list[Cause] = []
    for name in ("ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += _non_negative(f"{path}.{name}", spec.get(name))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        causes.append(
            _required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified")
        )
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(_not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed":
        causes += _indexed_errors(spec, path)
    else:
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(name) is not None:
                causes.append(
                    _invalid(f"{path}.{name}", spec[name], "requires indexed completion mode")
                )
    if spec.get("podFailurePolicy") is not None:
        causes += _pod_failure_policy_errors(spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        if mode != "Indexed":
            causes.append(
                _invalid(
                    f"{path}.successPolicy",
                    spec["successPolicy"],
                    "requires indexed completion mode",
                )
            )
        else:
            causes += _success_policy_errors(spec, f"{path}.successPolicy")
    causes += _replacement_policy_errors(spec, f"{path}.podReplacementPolicy")
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if spec.get("podFailurePolicy") is not None and restart == "OnFailure":
        causes.append(
            _invalid(
                f"{path}.template.spec.restartPolicy",
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return causes


def _indexed_errors(spec: KubeObject, path: str) -> list[Cause]:
    causes: list[Cause] = []
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    most_failed = spec.get("maxFailedIndexes")
    if completions is None:
        causes.append(_required(f"{path}.completions", "when completion mode is Indexed"))
    if isinstance(parallelism, int) and parallelism > MAX_INDEXED_PARALLELISM:
        causes.append(
            _invalid(
                f"{path}.parallelism",
                parallelism,
                f"must be less than or equal to {MAX_INDEXED_PARALLELISM} "
                "when completion mode is Indexed",
            )
        )
    if isinstance(most_failed, int):
        if isinstance(completions, int) and most_failed > completions:
            causes.append(
                _invalid(
                    f"{path}.maxFailedIndexes",
                    most_failed,
                    "must be less than or equal to completions",
                )
            )
        if most_failed > MAX_FAILED_INDEXES:
            causes.append(
                _invalid(
                    f"{path}.maxFailedIndexes",
                    most_failed,
                    f"must be less than or equal to {MAX_FAILED_INDEXES}",
                )
            )
    if (
        isinstance(completions, int)
        and completions > COMPLETIONS_SOFT_LIMIT
        and spec.get("backoffLimitPerIndex") is not None
    ):
        causes += _high_completions_errors(spec, path)
    return causes


def _high_completions_errors(spec: KubeObject, path: str) -> list[Cause]:
    causes: list[Cause] = []
    parallelism, most_failed = spec.get("parallelism"), spec.get("maxFailedIndexes")
    beyond = (
        f"must be less than or equal to {HIGH_COMPLETIONS_LIMIT} when completions are above "
        f"{COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
    )
    if most_failed is None:
        causes.append(
            _required(
                f"{path}.maxFailedIndexes",
                f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}",
            )
        )
    if isinstance(parallelism, int) and parallelism > HIGH_COMPLETIONS_LIMIT:
        causes.append(_invalid(f"{path}.parallelism", parallelism, beyond))
    if isinstance(most_failed, int) and most_failed > HIGH_COMPLETIONS_LIMIT:
        causes.append(_invalid(f"{path}.maxFailedIndexes", most_failed, beyond))
    return causes


def _container_names(spec: KubeObject) -> set[str]:
    pod = (spec.get("template") or {}).get("spec") or {}
    return {
        str(c.get("name"))
        for c in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]
        if isinstance(c, dict)
    }


def _pod_failure_policy_errors(spec: KubeObject, path: str) -> list[Cause]:
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    causes: list[Cause] = []
    if len(rules) > MAX_RULES:
        causes.append(_too_many(f"{path}.rules", len(rules), MAX_RULES))
    names = _container_names(spec)
    for i, rule in enumerate(rules):
        causes += _rule_errors(
            spec, rule if isinstance(rule, dict) else {}, f"{path}.rules[{i}]", names
        )
    return causes


def _rule_errors(spec: KubeObject, rule: KubeObject, path: str, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    action = rule.get("action")
    if not action:
        causes.append(_required(f"{path}.action", f"valid values: {_go_quoted_list(ACTIONS)}"))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(
                _invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set")
            )
    elif action not in ACTIONS:
        causes.append(_not_supported(f"{path}.action", action, ACTIONS))
    on_codes, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
    if on_codes is not None:
        causes += _exit_codes_errors(on_codes, f"{path}.onExitCodes", names)
    if on_conditions:
        causes += _conditions_errors(on_conditions, f"{path}.onPodConditions")
    if on_codes is not None and on_conditions:
        causes.append(
            _omitted(path, "specifying both OnExitCodes and OnPodConditions is not supported")
        )
    if on_codes is None and not on_conditions:
        causes.append(
            _omitted(path, "specifying one of OnExitCodes and OnPodConditions is required")
        )
    return causes


def _exit_codes_errors(requirement: KubeObject, path: str, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    operator = requirement.get("operator")
    if not operator:
        causes.append(_required(f"{path}.operator", f"valid values: {_go_quoted_list(OPERATORS)}"))
    elif operator not in OPERATORS:
        causes.append(_not_supported(f"{path}.operator", operator, OPERATORS))
    container = requirement.get("containerName")
    if container is not None and container not in names:
        causes.append(
            _invalid(
                f"{path}.containerName",
                container,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = requirement.get("values") or []
    if not values:
        causes.append(_invalid(f"{path}.values", values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        causes.append(_too_many(f"{path}.values", len(values), MAX_EXIT_CODES))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            causes.append(
                _invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator")
            )
        if value in seen:
            causes.append((f"{path}.values[{j}]", DUPLICATE, f"Duplicate value: {_shown(value)}"))
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        causes.append(_invalid(f"{path}.values", values, "must be ordered"))
    return causes


def _conditions_errors(patterns: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        causes.append(_too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        where = f"{path}[{j}]"
        pattern = pattern if isinstance(pattern, dict) else {}
        causes += _qualified_name_errors(f"{where}.type", str(pattern.get("type") or ""))
        status = pattern.get("status")
        if not status:
            causes.append(
                _required(f"{where}.status", f"valid values: {_go_quoted_list(CONDITION_STATUSES)}")
            )
        elif status not in CONDITION_STATUSES:
            causes.append(_not_supported(f"{where}.status", status, CONDITION_STATUSES))
    return causes


def _qualified_name_errors(path: str, value: str) -> list[Cause]:
    """ValidateQualifiedName, as the workload labels check it: ``[prefix/]name``."""
    name = value.rsplit("/", 1)[-1]
    if not name:
        return [_invalid(path, value, "name part must be non-empty")]
    if len(name) > 63 or not _QUALIFIED.match(name):
        return [
            _invalid(
                path, value, "name part must consist of alphanumeric characters, '-', '_' or '.'"
            )
        ]
    return []


def _replacement_policy_errors(spec: KubeObject, path: str) -> list[Cause]:
    policy = spec.get("podReplacementPolicy")
    if policy is None:
        return []
    if spec.get("podFailurePolicy") is not None:
        return [] if policy == "Failed" else [_not_supported(path, policy, ("Failed",))]
    if policy not in REPLACEMENT_POLICIES:
        return [_not_supported(path, policy, REPLACEMENT_POLICIES)]
    return []


def _success_policy_errors(spec: KubeObject, path: str) -> list[Cause]:
    rules = (spec.get("successPolicy") or {}).get("rules") or []
    causes: list[Cause] = []
    if not rules:
        causes.append(
            _required(
                f"{path}.rules",
                "at least one rules must be specified when the successPolicy is specified",
            )
        )
    if len(rules) > MAX_RULES:
        causes.append(_too_many(f"{path}.rules", len(rules), MAX_RULES))
    completions = spec.get("completions")
    if not isinstance(completions, int):
        return causes  # already reported: Indexed needs completions
    for i, rule in enumerate(rules):
        causes += _success_rule_errors(
            rule if isinstance(rule, dict) else {}, completions, f"{path}.rules[{i}]"
        )
    return causes


def _success_rule_errors(rule: KubeObject, completions: int, path: str) -> list[Cause]:
    causes: list[Cause] = []
    indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
    if indexes is None and count is None:
        causes.append(
            _required(path, "at least one of succeededCount or succeededIndexes must be specified")
        )
    size = 0
    if indexes is not None:
        where = f"{path}.succeededIndexes"
        if len(str(indexes)) > MAX_SUCCEEDED_INDEXES_LENGTH:
            causes.append(
                (
                    where,
                    "FieldValueTooLong",
                    f"Too long: may not be more than {MAX_SUCCEEDED_INDEXES_LENGTH} bytes",
                )
            )
        parsed = indexes_format_error(str(indexes), completions)
        if isinstance(parsed, str):
            causes.append(_invalid(where, indexes, f"error parsing succeededIndexes: {parsed}"))
        else:
            size = parsed
    if count is not None:
        where = f"{path}.succeededCount"
        causes += _non_negative(where, count)
        if isinstance(count, int) and count > completions:
            causes.append(
                _invalid(
                    where,
                    count,
                    f"must be less than or equal to {completions} "
                    "(the number of specified completions)",
                )
            )
        if indexes is not None and isinstance(count, int) and count > size:
            causes.append(
                _invalid(
                    where,
                    count,
                    f"must be less than or equal to {size} "
                    "(the number of indexes in the specified succeededIndexes field)",
                )
            )
    return causes


def indexes_format_error(text: str, completions: int) -> int | str:
    """How many indexes ``text`` ("1,3-5") names, or kube's parse error for it."""
    if not text:
        return 0
    count, last = 0, -1
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2:
            return (
                f"the fragment {json.dumps(part)} violates the requirement that an index "
                "interval can have at most two parts separated by '-'"
            )
        numbers = []
        for bound in bounds:
            if not bound.isdigit():
                return f"cannot convert string to integer for index: {json.dumps(bound)}"
            if int(bound) >= completions:
                return f"too large index: {json.dumps(bound)}"
            numbers.append(int(bound))
        first, final = numbers[0], numbers[-1]
        if first > final:
            return f"non-increasing order, previous: {first}, current: {final}"
        if last >= first:
            return f"non-increasing order, previous: {last}, current: {first}"
        count += final - first + 1
        last = final
    return count


def indexed_hostname_errors(job: KubeObject, spec: KubeObject) -> list[Cause]:
    """An Indexed Job's pods are named ``<job>-<index>`` as hostnames: that must be a label."""
    completions = spec.get("completions")
    if spec.get("completionMode") != "Indexed" or not isinstance(completions, int):
        return []
    if completions <= 0:
        return []
    name = str(job.get("metadata", {}).get("name") or "")
    hostname = f"{name}-{completions - 1}"
    if is_label(hostname):
        return []
    return [
        _invalid(
            "metadata.name",
            name,
            f"will not able to create pod with invalid DNS label: {hostname}",
        )
    ]


def job_spec_update_errors(old: KubeObject, new: KubeObject) -> list[Cause]:
    """``ValidateJobSpecUpdate``'s immutable fields (selector and template are checked by
    the caller), and completions that move only together with parallelism when Indexed."""
    causes: list[Cause] = []
    if new.get("completionMode") != "Indexed":
        causes += immutable_errors(
            "spec.completions", old.get("completions"), new.get("completions")
        )
    elif new.get("completions") not in (old.get("completions"), None, new.get("parallelism")):
        causes.append(
            _invalid(
                "spec.completions",
                new["completions"],
                "can only be modified in tandem with spec.parallelism",
            )
        )
    for name in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        causes += immutable_errors(f"spec.{name}", old.get(name), new.get(name))
    return causes
