"""Label and field selectors with kube-apiserver's syntax and semantics.

Selectors are parsed once per request into a list of small requirement tuples and then
evaluated per object; a watch evaluates them for every event, so evaluation avoids any
allocation beyond a dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubelet_core._controlplane.errors import ApiError, bad_request

KubeObject = dict[str, Any]
Predicate = Callable[[KubeObject], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


Requirement = tuple[str, str, frozenset[str]]  # (key, op, values)


def parse_label_selector(text: str) -> list[Requirement]:
    reqs: list[Requirement] = []
    for part in _split_top(text):
        m = _CMP_RE.match(part)
        if m:
            op = "!=" if m.group(3) == "!=" else "="
            reqs.append((m.group(1), op, frozenset({m.group(4)})))
            continue
        m = _SET_RE.match(part)
        if m:
            negate, key, set_op, values = m.group(1), m.group(2), m.group(4), m.group(5)
            if set_op:
                if negate:
                    raise bad_request(f"unable to parse requirement: {part!r}")
                vals = frozenset(v.strip() for v in values.split(",") if v.strip())
                reqs.append((key, set_op, vals))
            else:
                reqs.append((key, "!exists" if negate else "exists", frozenset()))
            continue
        raise ApiError(
            400,
            "BadRequest",
            f"unable to parse requirement: found '{part.strip()}', expected selector",
        )
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, values in reqs:
        value = labels.get(key)
        if op == "=":
            if value is None or value not in values:
                return False
        elif op == "!=":
            if value is not None and value in values:
                return False
        elif op == "in":
            if value is None or value not in values:
                return False
        elif op == "notin":
            if value is not None and value in values:
                return False
        elif op == "exists":
            if value is None:
                return False
        elif op == "!exists" and value is not None:
            return False
    return True


FieldRequirement = tuple[tuple[str, ...], bool, str]  # (path, equal?, value)


def parse_field_selector(text: str, supported: frozenset[str], kind: str) -> list[FieldRequirement]:
    reqs: list[FieldRequirement] = []
    for part in _split_top(text):
        part = part.strip()
        if "!=" in part:
            key, value = part.split("!=", 1)
            equal = False
        elif "==" in part:
            key, value = part.split("==", 1)
            equal = True
        elif "=" in part:
            key, value = part.split("=", 1)
            equal = True
        else:
            raise bad_request(f"invalid selector: '{part}'; can't understand '{part}'")
        key = key.strip()
        if key not in supported:
            raise bad_request(f"field label not supported: {key}")
        reqs.append((tuple(key.split(".")), equal, value.strip()))
    return reqs


def field_value(obj: KubeObject, path: tuple[str, ...]) -> str:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):  # events' "source" means source.component
        return str(cur.get("component", ""))
    return str(cur)


def fields_match(reqs: list[FieldRequirement], obj: KubeObject) -> bool:
    return all((field_value(obj, path) == value) == equal for path, equal, value in reqs)


class Filter:
    """A parsed (namespace, labelSelector, fieldSelector) filter for list and watch."""

    __slots__ = ("fields", "labels", "namespace")

    def __init__(
        self,
        namespace: str | None,
        label_selector: str,
        field_selector: str,
        supported_fields: frozenset[str],
        kind: str,
    ) -> None:
        self.namespace = namespace
        self.labels = parse_label_selector(label_selector) if label_selector else []
        self.fields = (
            parse_field_selector(field_selector, supported_fields, kind) if field_selector else []
        )

    @property
    def trivial(self) -> bool:
        return not self.labels and not self.fields and self.namespace is None

    def __call__(self, obj: KubeObject) -> bool:
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.labels and not labels_match(self.labels, meta.get("labels")):
            return False
        return not self.fields or fields_match(self.fields, obj)


def selector_requirements(selector: KubeObject) -> list[Requirement]:
    """A metav1.LabelSelector object (``matchLabels``, ``matchExpressions``) as requirements.

    An empty selector selects everything, as in kube.
    """
    reqs: list[Requirement] = [
        (str(k), "=", frozenset({str(v)})) for k, v in (selector.get("matchLabels") or {}).items()
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or ():
        op = ops.get(str(expr.get("operator")))
        if op is None:
            raise bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append((str(expr.get("key")), op, frozenset(map(str, expr.get("values") or ()))))
    return reqs
