"""Kubernetes time formats: ``Time`` (RFC 3339, seconds) and ``MicroTime`` (microseconds)."""

from __future__ import annotations

import datetime


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime | None = None) -> str:
    """``metav1.Time``: ``2026-01-02T03:04:05Z``."""
    moment = moment or utcnow()
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime.datetime | None = None) -> str:
    """``metav1.MicroTime``: ``2026-01-02T03:04:05.123456Z`` (leases, events.k8s.io)."""
    moment = moment or utcnow()
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime.datetime | None:
    """Parse either format; ``None`` (not an exception) for anything unparsable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
