"""What an Indexed Job's pods and a Job's policies mean, as kube's job controller reads them.

Completion indexes travel as sets of closed intervals, the compressed form of
``status.completedIndexes`` / ``status.failedIndexes`` ("0-2,4"; two neighbours print as
"0,1", as kube's ``orderedIntervals`` does), so a Job of a million completions costs a
few tuples, never a million-element set.

``podFailurePolicy`` rules are tried in order and the first that matches a failed pod
decides: ``FailJob`` (with kube's message naming the container, pod, exit code and rule),
``FailIndex``, ``Ignore`` (not counted against ``backoffLimit``) or ``Count``. An
``onExitCodes`` rule looks at terminated containers with a non-zero exit code (init
containers after the others); ``onPodConditions`` at the pod's conditions.
``successPolicy`` rules are matched against the succeeded indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KubeObject = dict[str, Any]
Interval = tuple[int, int]  # first, last (inclusive)

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
_INT32_MAX = 2**31 - 1


# -- completion indexes -------------------------------------------------------------------
def completion_index(pod: KubeObject) -> int | None:
    """The pod's completion index annotation, None when absent or not a non-negative int."""
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    if not isinstance(value, str) or not value.isdigit():
        return None
    return int(value)


def parse_indexes(text: str | None, completions: int) -> list[Interval]:
    """``"0-2,4"`` as intervals below ``completions``; malformed parts are skipped, as kube
    does when it reads back a status it wrote (a hand-edited one must not wedge the Job)."""
    result: list[Interval] = []
    for part in (text or "").split(","):
        bounds = part.split("-")
        if not part or len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            continue
        first = int(bounds[0])
        if first >= completions:
            break
        last = min(int(bounds[-1]), completions - 1)
        result = merge(result, [(first, last)])
    return result


def merge(*groups: Iterable[Interval]) -> list[Interval]:
    """The union of interval lists, sorted, with touching intervals joined."""
    result: list[Interval] = []
    for first, last in sorted(i for group in groups for i in group):
        if result and first <= result[-1][1] + 1:
            if last > result[-1][1]:
                result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def of_indexes(indexes: Iterable[int]) -> list[Interval]:
    return merge((i, i) for i in indexes)


def total(intervals: list[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def contains(intervals: list[Interval], index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def format_indexes(intervals: list[Interval]) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def first_pending(taken: list[Interval], count: int, completions: int) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` outside ``taken``."""
    result: list[int] = []
    candidate = 0
    for first, last in [*taken, (completions, completions)]:
        while candidate < min(first, completions) and len(result) < count:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
        if len(result) >= count or candidate >= completions:
            break
    return result


def failure_counts(pod: KubeObject) -> tuple[int, int]:
    """(counted, ignored) failures of the pod's index before it, from its annotations."""
    annotations = pod["metadata"].get("annotations") or {}
    return (
        _count_annotation(annotations.get(INDEX_FAILURE_COUNT)),
        _count_annotation(annotations.get(INDEX_IGNORED_FAILURE_COUNT)),
    )


def _count_annotation(value: Any) -> int:
    if isinstance(value, str) and value.isdigit() and int(value) <= _INT32_MAX:
        return int(value)
    return 0


# -- podFailurePolicy ---------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyMatch:
    """How a failed pod counts: ``action`` of the first matching rule (None: no rule)."""

    action: str | None = None
    counts: bool = True
    fail_job_message: str | None = None


NO_MATCH = PolicyMatch()


def match_pod_failure_policy(policy: KubeObject | None, pod: KubeObject) -> PolicyMatch:
    if not policy:
        return NO_MATCH
    meta = pod["metadata"]
    who = f"{meta.get('namespace')}/{meta.get('name')}"
    status = pod.get("status") or {}
    for index, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action") or "")
        if rule.get("onExitCodes") is not None:
            container = _matching_container(status, rule["onExitCodes"])
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            message = (
                f"Container {container.get('name')} for pod {who} failed with exit code "
                f"{code} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions"):
            condition = _matching_condition(status, rule["onPodConditions"])
            if condition is None:
                continue
            message = (
                f"Pod {who} has condition {condition.get('type')} matching {action} "
                f"rule at index {index}"
            )
        else:
            continue
        if action in ("Ignore", "Count", "FailIndex", "FailJob"):
            return PolicyMatch(
                action=action,
                counts=action != "Ignore",
                fail_job_message=message if action == "FailJob" else None,
            )
    return NO_MATCH


def _matching_container(status: KubeObject, requirement: KubeObject) -> KubeObject | None:
    wanted = requirement.get("containerName")
    for field in ("containerStatuses", "initContainerStatuses"):
        for container in status.get(field) or []:
            terminated = (container.get("state") or {}).get("terminated")
            if not terminated or (wanted is not None and container.get("name") != wanted):
                continue
            code = terminated.get("exitCode")
            if code and _exit_code_matches(int(code), requirement):
                return dict(container)
    return None


def _exit_code_matches(code: int, requirement: KubeObject) -> bool:
    values = requirement.get("values") or []
    operator = requirement.get("operator")
    if operator == "In":
        return code in values
    if operator == "NotIn":
        return code not in values
    return False


def _matching_condition(status: KubeObject, patterns: list[KubeObject]) -> KubeObject | None:
    for condition in status.get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get(
                "status"
            ) == pattern.get("status", "True"):
                return dict(condition)
    return None


# -- successPolicy ------------------------------------------------------------------------
def match_success_policy(
    policy: KubeObject | None, completions: int, succeeded: list[Interval]
) -> str | None:
    """kube's message ("Matched rules at index N") for the first rule ``succeeded`` meets."""
    if not policy or not succeeded:
        return None
    for index, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(str(rule["succeededIndexes"]), completions)
            if not required:
                continue
            overlap = _overlap(required, succeeded)
            if overlap == total(required) or (count is not None and overlap >= int(count)):
                return f"Matched rules at index {index}"
        elif count is not None and total(succeeded) >= int(count):
            return f"Matched rules at index {index}"
    return None


def _overlap(left: list[Interval], right: list[Interval]) -> int:
    return sum(
        max(0, min(a_last, b_last) - max(a_first, b_first) + 1)
        for a_first, a_last in left
        for b_first, b_last in right
    )
