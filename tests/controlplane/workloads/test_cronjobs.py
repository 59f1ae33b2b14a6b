"""CronJobs through kubectl: Jobs at the scheduled times of a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane.workloads.conftest import ClockEnv, WorkloadProvider, clock_env

pytestmark = pytest.mark.needs_kubectl


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[ClockEnv]:
    async with clock_env(tmp_path, kubectl) as e:
        yield e


def cronjob_manifest(name: str, args: list[str], **spec: Any) -> str:
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return (
        f"apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n"
        f'  schedule: "*/1 * * * *"\n{extra}'
        "  jobTemplate:\n    metadata: {labels: {team: a}}\n    spec:\n      template:\n"
        "        spec:\n          restartPolicy: Never\n"
        f"          containers: [{{name: main, image: example/task:1, args: {args}}}]\n"
    )


async def jobs_of(env: ClockEnv, cronjob: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await env.json("get", "jobs"))["items"]
    return sorted(
        (j for j in items if j["metadata"]["name"].startswith(f"{cronjob}-")),
        key=lambda j: str(j["metadata"]["name"]),
    )


async def test_cronjob_creates_jobs_on_schedule_and_forbid_skips(env: ClockEnv) -> None:
    """No node: each Job stays active, so Forbid skips the second run and Allow does not."""
    await env.create(cronjob_manifest("tick", ["sleep"], concurrencyPolicy="Forbid"))
    await env.create(cronjob_manifest("tock", ["sleep"]))
    assert await jobs_of(env, "tick") == []
    env.clock.advance(60)

    async def one_each() -> bool:
        return len(await jobs_of(env, "tick")) == 1 and len(await jobs_of(env, "tock")) == 1

    await env.until(one_each)
    (job,) = await jobs_of(env, "tick")
    scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    from kubelet_core._apiclient.timefmt import parse_time

    moment = parse_time(scheduled)
    assert moment is not None and moment.second == 0
    assert job["metadata"]["name"] == f"tick-{int(moment.timestamp()) // 60}"
    assert job["metadata"]["labels"]["team"] == "a"
    (ref,) = job["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "tick", True)

    async def recorded() -> dict[str, Any] | None:
        cj: dict[str, Any] = await env.json("get", "cronjob", "tick")
        status = cj.get("status") or {}
        return cj if status.get("active") and status.get("lastScheduleTime") else None

    cj = await env.until(recorded)
    assert [a["name"] for a in cj["status"]["active"]] == [job["metadata"]["name"]]
    assert parse_time(cj["status"]["lastScheduleTime"]) == moment

    env.clock.advance(60)

    async def two_tocks() -> bool:
        return len(await jobs_of(env, "tock")) == 2

    await env.until(two_tocks)
    await env.until(lambda: env.events("JobAlreadyActive"))
    assert len(await jobs_of(env, "tick")) == 1


async def test_history_limit_and_last_successful_time(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    await env.create(cronjob_manifest("done", ["exit-0"], successfulJobsHistoryLimit=1))
    env.clock.advance(60)

    async def succeeded() -> str | None:
        cj: dict[str, Any] = await env.json("get", "cronjob", "done")
        last: str | None = (cj.get("status") or {}).get("lastSuccessfulTime")
        return last if not cj["status"].get("active") else None

    first = await env.until(succeeded)
    (job1,) = await jobs_of(env, "done")
    env.clock.advance(60)

    async def replaced() -> bool:
        jobs = await jobs_of(env, "done")
        return [j["metadata"]["name"] for j in jobs] != [job1["metadata"]["name"]] and len(
            jobs
        ) == 1

    await env.until(replaced)

    async def newer() -> str | None:
        last = await succeeded()
        return last if last is not None and last != first else None

    await env.until(newer)
