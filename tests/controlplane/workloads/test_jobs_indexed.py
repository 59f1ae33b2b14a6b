"""Indexed Jobs, per-index backoff, podFailurePolicy and successPolicy through kubectl.

Expectations follow the Kubernetes Job documentation (concepts/workloads/controllers/job):
indexes, their env var / annotation / label / hostname, ``completedIndexes`` and
``failedIndexes`` intervals, the FailureTarget -> Failed and SuccessCriteriaMet -> Complete
sequences, and the validation messages kube-apiserver answers with. Pods end through the
scripted node (a per-index exit code) or, without a node, by writing their status as a
kubelet would; backoff is waited out by moving the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._controlplane.resources import PODS
from kubelet_core._provider import KubeObject
from tests.controlplane.workloads.conftest import ClockEnv, WorkloadProvider, clock_env
from tests.node.scripted import key_of

pytestmark = pytest.mark.needs_kubectl
INDEX = "batch.kubernetes.io/job-completion-index"


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[ClockEnv]:
    async with clock_env(tmp_path, kubectl) as e:
        yield e


class IndexedProvider(WorkloadProvider):
    """Ends each pod with the exit code set for its completion index (others keep running)."""

    exits: dict[int, int]

    async def create_pod(self, pod: KubeObject) -> None:
        await super().create_pod(pod)
        index = (pod["metadata"].get("annotations") or {}).get(INDEX)
        if index is not None and int(index) in self.exits:
            self.succeed(key_of(pod), self.exits[int(index)])


@pytest.fixture
async def indexed_node(env: ClockEnv) -> AsyncIterator[IndexedProvider]:
    provider = IndexedProvider()
    provider.exits = {}
    async with env.cluster.node(provider, "n1"):
        yield provider


def job(name: str, spec: dict[str, Any], *, args: list[str] | None = None) -> str:
    """A Job manifest (JSON is YAML) with one ``main`` container."""
    container: dict[str, Any] = {"name": "main", "image": "example/task:1"}
    if args:
        container["args"] = args
    pod_spec = {"restartPolicy": "Never", "containers": [container]}
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {**spec, "template": {"spec": pod_spec}},
    }
    return json.dumps(body)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond["type"] == type_ and cond["status"] == "True":
            return dict(cond)
    return None


async def finished(env: ClockEnv, name: str, type_: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        obj = await env.job(name)
        return obj if condition(obj, type_) else None

    result: dict[str, Any] = await env.until(check)
    return result


async def pods_of(env: ClockEnv, name: str, count: int) -> list[KubeObject]:
    async def check() -> list[KubeObject] | None:
        pods = await env.pods(f"batch.kubernetes.io/job-name={name}")
        return pods if len(pods) == count else None

    result: list[KubeObject] = await env.until(check)
    return result


async def set_pod_status(env: ClockEnv, pod: KubeObject, status: dict[str, Any]) -> None:
    """What a kubelet reports, for a pod no node runs."""
    await env.k.out(
        "patch",
        "pod",
        pod["metadata"]["name"],
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def terminated(phase: str, exit_code: int) -> dict[str, Any]:
    state = {"terminated": {"exitCode": exit_code, "reason": "Error" if exit_code else "Completed"}}
    return {
        "phase": phase,
        "containerStatuses": [
            {"name": "main", "image": "example/task:1", "imageID": "", "ready": False}
            | {"restartCount": 0, "state": state}
        ],
    }


async def test_indexed_job_gives_each_index_its_pod(env: ClockEnv, node: WorkloadProvider) -> None:
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
    manifest = json.loads(
        job(
            "idx",
            {"completions": 3, "parallelism": 2, "completionMode": "Indexed"},
            args=["exit-0"],
        )
    )
    pod_spec = manifest["spec"]["template"]["spec"]
    pod_spec["subdomain"] = "workers"
    pod_spec["initContainers"] = [{"name": "prepare", "image": "example/prep:1"}]
    await env.create(json.dumps(manifest))
    done = await finished(env, "idx", "Complete")
    status = done["status"]
    assert status["completedIndexes"] == "0-2"
    assert (status["succeeded"], status.get("failed", 0), status.get("active", 0)) == (3, 0, 0)
    for type_ in ("SuccessCriteriaMet", "Complete"):
        cond = condition(done, type_)
        assert cond is not None and cond["reason"] == "CompletionsReached"
        assert cond["message"] == "Reached expected number of succeeded pods"
    assert "completionTime" in status
    assert most["active"] <= 2
    pods = await pods_of(env, "idx", 3)
    indexes = set()
    for pod in pods:
        meta, spec = pod["metadata"], pod["spec"]
        index = meta["annotations"][INDEX]
        indexes.add(index)
        assert meta["labels"][INDEX] == index
        assert re.fullmatch(rf"idx-{index}-[a-z0-9]{{5}}", meta["name"])
        assert spec["hostname"] == f"idx-{index}" and spec["subdomain"] == "workers"
        for container in [*spec["containers"], *spec["initContainers"]]:
            (var,) = [v for v in container["env"] if v["name"] == "JOB_COMPLETION_INDEX"]
            assert var["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.labels['{INDEX}']"
    assert indexes == {"0", "1", "2"}


async def test_backoff_limit_per_index_retries_then_fails_the_index(
    env: ClockEnv, indexed_node: IndexedProvider
) -> None:
    indexed_node.exits = {0: 0, 1: 3, 2: 0}
    spec = {"completions": 3, "parallelism": 3, "completionMode": "Indexed"}
    await env.create(job("per", {**spec, "backoffLimitPerIndex": 1}))

    async def index_one_backing_off() -> bool:
        obj = await env.job("per")
        due = env.due("job-controller", "per")
        return obj["status"].get("failed") == 1 and due is not None and 9 < due <= 10

    await env.until(index_one_backing_off)
    assert (await env.job("per"))["status"]["failedIndexes"] == ""
    env.clock.advance(10)
    failed = await finished(env, "per", "Failed")
    status = failed["status"]
    assert (status["completedIndexes"], status["failedIndexes"]) == ("0,2", "1")
    assert status["failed"] == 2 and status["succeeded"] == 2
    for type_ in ("FailureTarget", "Failed"):
        cond = condition(failed, type_)
        assert cond is not None and cond["reason"] == "FailedIndexes"
        assert cond["message"] == "Job has failed indexes"
    retries = [
        p for p in await pods_of(env, "per", 4) if p["metadata"]["annotations"][INDEX] == "1"
    ]
    counts = sorted(
        p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] for p in retries
    )
    assert counts == ["0", "1"]


async def test_fail_index_rule_and_max_failed_indexes_fail_the_job(
    env: ClockEnv, indexed_node: IndexedProvider
) -> None:
    """Index 1 exits 3 (FailIndex: not retried); the others still run and are deleted first."""
    indexed_node.exits = {1: 3}
    rule = {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}
    spec = {
        "completions": 3,
        "parallelism": 3,
        "completionMode": "Indexed",
        "backoffLimitPerIndex": 2,
        "maxFailedIndexes": 0,
        "podFailurePolicy": {"rules": [rule]},
    }
    store = env.cp.store
    assert store is not None
    seen: list[tuple[bool, bool, int]] = []  # (FailureTarget, Failed, pods terminating)

    def observe(event: Any) -> None:
        if event.rt.kind == "Job" and event.obj["metadata"]["name"] == "cap":
            terminating = sum(
                1
                for e in store.entries(PODS, "default")
                if e.obj["metadata"].get("deletionTimestamp")
                and e.obj.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            )
            has = (condition(event.obj, "FailureTarget"), condition(event.obj, "Failed"))
            seen.append((has[0] is not None, has[1] is not None, terminating))

    store.add_listener(observe)
    await env.create(job("cap", spec))
    failed = await finished(env, "cap", "Failed")
    # FailureTarget first, while the running pods terminate; Failed once none does.
    assert any(target and not final and busy for target, final, busy in seen)
    assert all(busy == 0 for _target, final, busy in seen if final)
    target = condition(failed, "FailureTarget")
    assert target is not None and target["reason"] == "MaxFailedIndexesExceeded"
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "MaxFailedIndexesExceeded"
    assert cond["message"] == "Job has exceeded the specified maximal number of failed indexes"
    assert failed["status"]["failedIndexes"] == "1"
    assert failed["status"].get("active", 0) == 0 and failed["status"]["terminating"] == 0
    indexes = [p["metadata"]["annotations"][INDEX] for p in await env.pods("job-name=cap")]
    assert indexes.count("1") == 1


async def test_fail_job_rule_on_exit_code_fails_with_pod_failure_policy(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    rule = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}
    await env.create(job("fatal", {"podFailurePolicy": {"rules": [rule]}}, args=["exit-42"]))
    failed = await finished(env, "fatal", "Failed")
    (pod,) = await env.pods("job-name=fatal")
    message = (
        f"Container main for pod default/{pod['metadata']['name']} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )
    for type_ in ("FailureTarget", "Failed"):
        cond = condition(failed, type_)
        assert cond is not None and (cond["reason"], cond["message"]) == (
            "PodFailurePolicy",
            message,
        )
    assert failed["status"]["failed"] == 1
    assert failed["spec"]["podReplacementPolicy"] == "Failed"

    async def warned() -> list[KubeObject]:
        return await env.events("PodFailurePolicy")

    (event,) = await env.until(warned)
    assert event["type"] == "Warning" and event["message"] == message


async def test_ignore_rule_on_disruption_does_not_count_toward_backoff_limit(
    env: ClockEnv,
) -> None:
    """No node: the pods' status is written as the kubelet would after an eviction."""
    rule = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
    await env.create(job("evicted", {"backoffLimit": 0, "podFailurePolicy": {"rules": [rule]}}))
    created = await env.job("evicted")
    assert created["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]
    (first,) = await pods_of(env, "evicted", 1)
    disrupted = terminated("Failed", 137) | {
        "conditions": [
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
        ]
    }
    await set_pod_status(env, first, disrupted)

    async def backing_off() -> bool:
        due = env.due("job-controller", "evicted")
        return due is not None and 9 < due <= 10

    await env.until(backing_off)
    env.clock.advance(10)
    pods = await pods_of(env, "evicted", 2)
    obj = await env.job("evicted")
    assert condition(obj, "FailureTarget") is None and condition(obj, "Failed") is None
    assert obj["status"].get("failed", 0) == 0 and obj["status"]["active"] == 1
    # A failure no rule matches counts: with backoffLimit 0 the Job fails at once.
    (second,) = [p for p in pods if p["metadata"]["name"] != first["metadata"]["name"]]
    await set_pod_status(env, second, terminated("Failed", 1))
    failed = await finished(env, "evicted", "Failed")
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    assert failed["status"]["failed"] == 1


async def test_first_matching_rule_wins_count_before_fail_job(
    env: ClockEnv, node: WorkloadProvider
) -> None:
    rules = [
        {"action": "Count", "onExitCodes": {"operator": "In", "values": [1]}},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [42]}},
    ]
    spec = {"backoffLimit": 0, "podFailurePolicy": {"rules": rules}}
    await env.create(job("counted", spec, args=["exit-1"]))
    failed = await finished(env, "counted", "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "BackoffLimitExceeded"
    assert failed["status"]["failed"] == 1


async def test_success_policy_completes_on_the_named_index(env: ClockEnv) -> None:
    spec = {
        "completions": 3,
        "parallelism": 3,
        "completionMode": "Indexed",
        "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
    }
    await env.create(job("leader", spec))
    pods = await pods_of(env, "leader", 3)
    (leader,) = [p for p in pods if p["metadata"]["annotations"][INDEX] == "0"]
    await set_pod_status(env, leader, terminated("Succeeded", 0))
    done = await finished(env, "leader", "Complete")
    for type_ in ("SuccessCriteriaMet", "Complete"):
        cond = condition(done, type_)
        assert cond is not None
        assert (cond["reason"], cond["message"]) == ("SuccessPolicy", "Matched rules at index 0")
    assert done["status"]["completedIndexes"] == "0" and done["status"]["succeeded"] == 1
    assert "completionTime" in done["status"]
    assert [p["metadata"]["name"] for p in await env.pods("job-name=leader")] == [
        leader["metadata"]["name"]
    ]


INVALID_SPECS = [
    (
        {"completionMode": "Indexed", "parallelism": 2},
        "spec.completions: Required value: when completion mode is Indexed",
    ),
    (
        {"completionMode": "Indexed", "completions": 2, "parallelism": 100001},
        "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 "
        "when completion mode is Indexed",
    ),
    (
        {"backoffLimitPerIndex": 1},
        "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
    ),
    (
        {
            "completionMode": "Indexed",
            "completions": 2,
            "backoffLimitPerIndex": 1,
            "maxFailedIndexes": 3,
        },
        "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
    ),
    (
        {
            "podFailurePolicy": {
                "rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]
            }
        },
        'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": '
        "requires the backoffLimitPerIndex to be set",
    ),
    (
        {
            "podFailurePolicy": {
                "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}]
            }
        },
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: "
        "must not be 0 for the In operator",
    ),
    (
        {"podFailurePolicy": {"rules": [{"action": "Ignore"}]}},
        "spec.podFailurePolicy.rules[0]: Invalid value: "
        "specifying one of OnExitCodes and OnPodConditions is required",
    ),
    (
        {"successPolicy": {"rules": [{"succeededCount": 1}]}},
        "spec.successPolicy: Invalid value: ",
    ),
    (
        {"successPolicy": {"rules": [{"succeededCount": 1}]}},
        ": requires indexed completion mode",
    ),
]


@pytest.mark.parametrize(("spec", "message"), INVALID_SPECS)
async def test_invalid_job_specs_are_rejected_as_kube_does(
    env: ClockEnv, spec: dict[str, Any], message: str
) -> None:
    path = env.k.workdir / "bad.json"
    path.write_text(job("bad", spec))
    rc, _out, err = await env.k.run("create", "-f", str(path), check=False)
    assert rc != 0
    assert 'The Job "bad" is invalid' in err and message in err


async def test_pod_failure_policy_requires_restart_policy_never(env: ClockEnv) -> None:
    rule = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}
    body = json.loads(job("onfail", {"podFailurePolicy": {"rules": [rule]}}))
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    path = env.k.workdir / "onfail.json"
    path.write_text(json.dumps(body))
    rc, _out, err = await env.k.run("create", "-f", str(path), check=False)
    assert rc != 0
    assert (
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": '
        'only "Never" is supported when podFailurePolicy is specified'
    ) in err


async def test_completion_mode_and_policies_are_immutable(env: ClockEnv) -> None:
    await env.create(job("fixed", {"completions": 2, "parallelism": 1, "suspend": True}))
    patches = {
        '{"spec":{"completionMode":"Indexed"}}': 'spec.completionMode: Invalid value: "Indexed": '
        "field is immutable",
        '{"spec":{"podFailurePolicy":{"rules":[{"action":"Ignore","onPodConditions":'
        '[{"type":"DisruptionTarget"}]}]}}}': "spec.podFailurePolicy: Invalid value: ",
    }
    for patch, message in patches.items():
        rc, _out, err = await env.k.run(
            "patch", "job/fixed", "--type=merge", "-p", patch, check=False
        )
        assert rc != 0 and message in err, err
