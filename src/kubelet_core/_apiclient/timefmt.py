"""Kubernetes time formats, the one place they are written: ``Time`` and ``MicroTime``.

``metav1.Time`` is RFC 3339 with second precision and a ``Z``
(``2026-12-01T23:28:20Z``); ``metav1.MicroTime`` (leases, events.k8s.io)
adds microseconds.  The node side and the embedded control plane both format
through here, so what a client reads from either is byte-for-byte alike.
A moment is a timezone-aware ``datetime``, a POSIX timestamp, or now.
"""

from __future__ import annotations

import datetime
import time

Moment = datetime.datetime | float | int

#: The last whole second :func:`rfc3339` formatted for "now", and its text.
_last_now: tuple[int, str] = (-1, "")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _utc(moment: Moment | None) -> datetime.datetime:
    if moment is None:
        return utcnow()
    if isinstance(moment, datetime.datetime):
        return moment.astimezone(datetime.UTC)
    return datetime.datetime.fromtimestamp(moment, datetime.UTC)


_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def rfc3339(moment: Moment | None = None) -> str:
    """``metav1.Time``: ``2026-01-02T03:04:05Z`` (fractions of a second are dropped)."""
    if moment is None:
        # "Now" is stamped several times per pod start (statuses, events, container
        # states) and strftime costs ~5 us: format each second once.  time.time() is
        # the clock datetime.now() reads, and the text drops the fraction either way.
        global _last_now
        second = int(time.time())
        last = _last_now
        if last[0] == second:
            return last[1]
        text = datetime.datetime.fromtimestamp(second, datetime.UTC).strftime(_TIME_FORMAT)
        _last_now = (second, text)
        return text
    return _utc(moment).strftime(_TIME_FORMAT)


def micro_time(moment: Moment | None = None) -> str:
    """``metav1.MicroTime``: ``2026-01-02T03:04:05.123456Z``."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime.datetime | None:
    """Parse either format; ``None`` (not an exception) for anything unparsable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
