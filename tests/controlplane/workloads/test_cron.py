"""CronJob schedules, as documented for CronJob (cron syntax, descriptors, timeZone)."""

from __future__ import annotations

import datetime as dt

import pytest

from kubelet_core._controlplane.workloads.cron import ScheduleError, parse_schedule

T = dt.datetime(2024, 1, 1, 10, 7, tzinfo=dt.UTC)  # a Monday


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/15 * * * *", dt.datetime(2024, 1, 1, 10, 15, tzinfo=dt.UTC)),
        ("@hourly", dt.datetime(2024, 1, 1, 11, 0, tzinfo=dt.UTC)),
        ("@daily", dt.datetime(2024, 1, 2, 0, 0, tzinfo=dt.UTC)),
        ("@weekly", dt.datetime(2024, 1, 7, 0, 0, tzinfo=dt.UTC)),
        ("@yearly", dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.UTC)),
        ("0 0 13 * 5", dt.datetime(2024, 1, 5, 0, 0, tzinfo=dt.UTC)),  # the 13th OR a Friday
        ("30 9 * jan-mar sat", dt.datetime(2024, 1, 6, 9, 30, tzinfo=dt.UTC)),
    ],
)
def test_next_time(schedule: str, expected: dt.datetime) -> None:
    assert parse_schedule(schedule).next_after(T) == expected


def test_time_zone() -> None:
    nine_in_paris = parse_schedule("0 9 * * *", "Europe/Paris").next_after(T)
    assert nine_in_paris == dt.datetime(2024, 1, 2, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("bad", ["* * *", "61 * * * *", "TZ=UTC * * * * *", "@often"])
def test_invalid(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(bad)
