"""Jobs and TTL-after-finished through kubectl, on a control plane with a manual clock.

Backoff, deadlines and TTLs are waited for by moving the clock, never by sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._controlplane.resources import JOBS, PODS
from tests.controlplane.workloads.conftest import ClockEnv, WorkloadProvider, clock_env

pytestmark = pytest.mark.needs_kubectl


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[ClockEnv]:
    async with clock_env(tmp_path, kubectl) as e:
        yield e


def job_manifest(name: str, args: list[str], **spec: Any) -> str:
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return (
        f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n{extra}"
        "  template:\n    spec:\n      restartPolicy: Never\n"
        f"      containers: [{{name: main, image: example/task:1, args: {args}}}]\n"
    )


def condition(job: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond["type"] == type_ and cond["status"] == "True":
            return dict(cond)
    return None


async def test_job_runs_to_complete_within_parallelism(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    store = env.cp.store
    assert store is not None
    most = {"active": 0}

    def observe(event: object) -> None:
        active = [
            e.obj
            for e in store.entries(PODS, "default")
            if not e.obj["metadata"].get("deletionTimestamp")
            and e.obj.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        most["active"] = max(most["active"], len(active))

    store.add_listener(observe)
    await env.create(job_manifest("pi", ["exit-0"], completions=3, parallelism=2))
    out = await env.k.out("wait", "--for=condition=complete", "job/pi", "--timeout=60s")
    assert "job.batch/pi condition met" in out
    job = await env.job("pi")
    status = job["status"]
    assert (status["succeeded"], status.get("active", 0), status.get("failed", 0)) == (3, 0, 0)
    assert status["ready"] == 0
    assert "startTime" in status and "completionTime" in status
    complete, criteria = condition(job, "Complete"), condition(job, "SuccessCriteriaMet")
    assert complete is not None and criteria is not None
    assert complete["reason"] == "CompletionsReached"
    assert most["active"] <= 2
    pods = await env.pods("batch.kubernetes.io/job-name=pi")
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)
    for pod in pods:
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["kind"] == "Job" and ref["name"] == "pi"
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
        assert pod["metadata"]["labels"]["job-name"] == "pi"
    header, row = (await env.k.out("get", "jobs")).splitlines()
    assert header.split()[:3] == ["NAME", "STATUS", "COMPLETIONS"]
    assert row.split()[:3] == ["pi", "Complete", "3/3"]


async def test_failing_job_backs_off_then_exceeds_backoff_limit(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    await env.create(job_manifest("bad", ["exit-1"], backoffLimit=1))

    async def first_failure_backed_off() -> bool:
        job = await env.job("bad")
        due = env.due("job-controller", "bad")
        return job["status"].get("failed") == 1 and due is not None and 9 < due <= 10

    await env.until(first_failure_backed_off)
    # Within the backoff no replacement is made.
    assert len(await env.pods("job-name=bad")) == 1
    env.clock.advance(10)

    async def failed() -> dict[str, Any] | None:
        return condition(await env.job("bad"), "Failed")

    cond = await env.until(failed)
    assert cond["reason"] == "BackoffLimitExceeded"
    assert condition(await env.job("bad"), "FailureTarget") is not None
    job = await env.job("bad")
    assert job["status"]["failed"] == 2
    assert "completionTime" not in job["status"]
    assert len(await env.pods("job-name=bad")) == 2


async def test_active_deadline_fails_job_and_deletes_its_pods(env: ClockEnv) -> None:
    """No node: the pods stay Pending until the deadline passes."""
    await env.create(job_manifest("slow", ["sleep"], parallelism=2, activeDeadlineSeconds=30))

    async def two_pending() -> bool:
        job = await env.job("slow")
        return job["status"].get("active") == 2 and "startTime" in job["status"]

    await env.until(two_pending)
    assert condition(await env.job("slow"), "Failed") is None
    env.clock.advance(30)

    async def failed() -> dict[str, Any] | None:
        return condition(await env.job("slow"), "Failed")

    cond = await env.until(failed)
    assert cond["reason"] == "DeadlineExceeded"

    async def pods_gone() -> bool:
        return not await env.pods("job-name=slow")

    await env.until(pods_gone)
    assert (await env.job("slow"))["status"].get("active", 0) == 0


async def test_suspended_job_makes_no_pods_until_resumed(env: ClockEnv) -> None:
    await env.create(job_manifest("later", ["sleep"], suspend="true"))

    async def suspended() -> dict[str, Any] | None:
        return condition(await env.job("later"), "Suspended")

    assert (await env.until(suspended))["reason"] == "JobSuspended"
    assert not await env.pods("job-name=later")
    assert "startTime" not in (await env.job("later"))["status"]
    await env.k.out("patch", "job/later", "--type=merge", "-p", '{"spec":{"suspend":false}}')

    async def running() -> bool:
        job = await env.job("later")
        return job["status"].get("active") == 1 and condition(job, "Suspended") is None

    await env.until(running)


async def test_ttl_after_finished_deletes_job_and_pods(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    await env.create(job_manifest("brief", ["exit-0"], ttlSecondsAfterFinished=5))
    await env.k.out("wait", "--for=condition=complete", "job/brief", "--timeout=60s")

    async def scheduled() -> bool:
        due = env.due("ttl-after-finished-controller", "brief")
        return due is not None and 4 <= due <= 5

    await env.until(scheduled)
    assert env.cp.store is not None and env.cp.store.get(JOBS, "default", "brief") is not None
    env.clock.advance(5)

    async def gone() -> bool:
        rc, _o, _e = await env.k.run("get", "job", "brief", check=False)
        return rc != 0 and not await env.pods("job-name=brief")

    await env.until(gone)
