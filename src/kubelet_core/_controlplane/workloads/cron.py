"""Cron schedules as the CronJob controller reads them (robfig/cron's standard parser).

Five fields (minute hour day-of-month month day-of-week) with ``*``, ``?``, lists, ranges,
steps and month/day names, or a descriptor (``@yearly``/``@annually``, ``@monthly``,
``@weekly``, ``@daily``/``@midnight``, ``@hourly``). Like cron, when both day fields are
restricted a day matching either one fires. Times are evaluated in ``spec.timeZone``
(an IANA name) or UTC, the kube-controller-manager's zone here. ``TZ=`` / ``CRON_TZ=``
prefixes are refused, as kube-apiserver refuses them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


class ScheduleError(ValueError):
    def __init__(self, message: str, *, time_zone: bool = False) -> None:
        super().__init__(message)
        self.time_zone = time_zone


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day-of-month is *
    any_weekday: bool
    zone: dt.tzinfo

    def _day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first scheduled minute strictly after ``moment`` (None within 5 years)."""
        t = moment.astimezone(self.zone).replace(second=0, microsecond=0, tzinfo=None)
        t += dt.timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if t.month not in self.months:
                t = dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1)
                continue
            if not self._day_matches(t):
                t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = dt.datetime(t.year, t.month, t.day, t.hour) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t.replace(tzinfo=self.zone).astimezone(dt.UTC)
        return None


def _field(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = _number(step_text, {})
            if step <= 0:
                raise ScheduleError(f"step of range should be a positive number: {text}")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _number(a, names), _number(b, names)
        else:
            start = _number(part, names)
            end = high if step > 1 else start
        if start < low or end > high or start > end:
            raise ScheduleError(f"end of range ({end}) above maximum ({high}): {text}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    try:
        return int(text)
    except ValueError:
        raise ScheduleError(f"failed to parse int from {text}") from None


def parse_schedule(text: str, time_zone: str | None = None) -> Schedule:
    text = text.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    spec = _DESCRIPTORS.get(text.lower(), text)
    if spec.startswith("@"):
        raise ScheduleError(f"unrecognized descriptor: {text}")
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    zone: dt.tzinfo = dt.UTC
    if time_zone:
        try:
            zone = zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ScheduleError("unknown time zone " + time_zone, time_zone=True) from None
    weekdays = _field(fields[4], 0, 7, _DAYS)
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    return Schedule(
        minutes=_field(fields[0], 0, 59, {}),
        hours=_field(fields[1], 0, 23, {}),
        days=_field(fields[2], 1, 31, {}),
        months=_field(fields[3], 1, 12, _MONTHS),
        weekdays=weekdays,
        any_day=fields[2] in ("*", "?"),
        any_weekday=fields[4] in ("*", "?"),
        zone=zone,
    )
