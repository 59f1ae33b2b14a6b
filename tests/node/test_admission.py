"""Admission on the node: a pod bound with ``spec.nodeName`` must still fit the node.

Attacks on audit finding 6: the scheduler is not the only way onto a node, so
the node admits each pod itself, as kubelet's predicate admit handler does
(pkg/kubelet/lifecycle/predicate.go; the resource check is the scheduler's
noderesources fit).  A pod that does not fit is ``Failed`` with reason
``OutOfpods`` / ``OutOfcpu`` / ``OutOfmemory`` / ``OutOf<resource>``, the
status message ``Pod was rejected: Node didn't have enough resource: <name>,
requested: N, used: N, capacity: N``, a Warning event with the bare message,
and it never reaches the provider.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubelet_core._apiclient import pod_path
from kubelet_core._pods.admission import PodAdmission, pod_requests
from kubelet_core._pods.watcher import PodWatcher
from kubelet_core._provider import KubeObject, NodeProfile
from tests.node.conftest import pod_manifest, running, wait_for, wait_gone
from tests.node.scripted import ScriptedProvider

PODS = "/api/v1/namespaces/default/pods"
EVENTS = "/api/v1/namespaces/default/events"


class SizedProvider(ScriptedProvider):
    """The scripted provider on a small machine: 2 CPUs, 1Gi, 3 widgets."""

    def node_profile(self) -> NodeProfile:
        profile = super().node_profile()
        return NodeProfile(
            architecture=profile.architecture,
            labels=profile.labels,
            taints=profile.taints,
            capacity={"cpu": "2", "memory": "1Gi", "example.com/widgets": "3"},
            runtime_version=profile.runtime_version,
        )


def phase_is(phase: str):
    return lambda pod: (pod.get("status") or {}).get("phase") == phase


def with_requests(
    name: str,
    requests: dict[str, str] | None = None,
    *,
    containers: list[dict[str, str]] | None = None,
    init: list[dict[str, str]] | None = None,
    limits: dict[str, str] | None = None,
) -> KubeObject:
    """A pod whose containers request ``containers`` (or one container ``requests``)."""
    pod = pod_manifest(name, containers=len(containers) if containers else 1)
    for container, wanted in zip(
        pod["spec"]["containers"], containers or [requests or {}], strict=True
    ):
        resources: dict[str, Any] = {}
        if wanted:
            resources["requests"] = wanted
        if limits:
            resources["limits"] = limits
        if resources:
            container["resources"] = resources
    if init:
        pod["spec"]["initContainers"] = [
            {"name": f"init{i}", "image": "example.test/hello:v1", "resources": {"requests": r}}
            for i, r in enumerate(init)
        ]
    return pod


async def rejected(api, name: str, reason: str, detail: str) -> KubeObject:
    """Wait for ``name`` to be Failed; check reason and kubelet's message."""
    pod = await wait_for(api, PODS, name, phase_is("Failed"))
    assert pod["status"]["reason"] == reason, pod["status"]
    assert pod["status"]["message"] == (
        f"Pod was rejected: Node didn't have enough resource: {detail}"
    )
    return pod


async def warning_events(api, agent, name: str) -> list[KubeObject]:
    assert await agent.events.flush(5)
    listing = await api.get(EVENTS, params={"fieldSelector": f"involvedObject.name={name}"})
    return [e for e in listing["items"] if e["type"] == "Warning"]


def created(provider: ScriptedProvider) -> list[str]:
    return [call[1].split("/", 1)[1] for call in provider.calls_of("create")]


async def test_fork_bomb_of_bound_pods_runs_only_max_pods(api, node_config, provider):
    names = [f"bomb-{i:02d}" for i in range(12)]
    async with running(provider, node_config(pods={"max_pods": 5})) as agent:
        for name in names:
            await api.create(PODS, pod_manifest(name))
        # Admitted in the order the node learns of them: the first five.
        for name in names[:5]:
            await wait_for(api, PODS, name, phase_is("Running"))
        for name in names[5:]:
            pod = await rejected(api, name, "OutOfpods", "pods, requested: 1, used: 5, capacity: 5")
            (event,) = await warning_events(api, agent, name)
            assert event["reason"] == "OutOfpods"
            assert event["message"] == (
                "Node didn't have enough resource: pods, requested: 1, used: 5, capacity: 5"
            )
            assert event["involvedObject"]["uid"] == pod["metadata"]["uid"]
        await agent.syncer.workers.idle(5)
        assert created(provider) == names[:5]
        assert len(provider.pods) == 5

        # Deleting two running pods frees two slots, for new pods only.
        for name in names[:2]:
            await api.delete(pod_path("default", name), grace_period_seconds=1)
        for name in names[:2]:
            await wait_gone(api, pod_path("default", name))
        for name in ("late-0", "late-1", "late-2"):
            await api.create(PODS, pod_manifest(name))
        await wait_for(api, PODS, "late-0", phase_is("Running"))
        await wait_for(api, PODS, "late-1", phase_is("Running"))
        await rejected(api, "late-2", "OutOfpods", "pods, requested: 1, used: 5, capacity: 5")

        # Rejected pods stay Failed: a resync does not retry them.
        agent.watcher.resync()
        await agent.syncer.workers.idle(5)
        assert created(provider) == [*names[:5], "late-0", "late-1"]
        for name in names[5:]:
            pod = await api.get(pod_path("default", name))
            assert pod["status"]["phase"] == "Failed"


async def test_finished_pods_free_their_slot(api, node_config, provider):
    async with running(provider, node_config(pods={"max_pods": 2})):
        await api.create(PODS, pod_manifest("job"))
        await api.create(PODS, pod_manifest("web"))
        await wait_for(api, PODS, "job", phase_is("Running"))
        await wait_for(api, PODS, "web", phase_is("Running"))
        await api.create(PODS, pod_manifest("early"))
        await rejected(api, "early", "OutOfpods", "pods, requested: 1, used: 2, capacity: 2")
        provider.succeed("default/job")
        await wait_for(api, PODS, "job", phase_is("Succeeded"))
        await api.create(PODS, pod_manifest("next"))
        await wait_for(api, PODS, "next", phase_is("Running"))
        assert created(provider) == ["job", "web", "next"]


async def test_cpu_over_allocatable_is_out_of_cpu(api, node_config):
    provider = SizedProvider()
    async with running(provider, node_config()) as agent:
        node = await api.get("/api/v1/nodes/node-a")
        assert node["status"]["allocatable"]["cpu"] == "2"  # what it admits is what it shows
        await api.create(PODS, with_requests("greedy", {"cpu": "3"}))
        await rejected(api, "greedy", "OutOfcpu", "cpu, requested: 3000, used: 0, capacity: 2000")
        (event,) = await warning_events(api, agent, "greedy")
        assert event["reason"] == "OutOfcpu"

        await api.create(PODS, with_requests("big", {"cpu": "1500m"}))
        await wait_for(api, PODS, "big", phase_is("Running"))
        # Init containers run one at a time: the pod needs the largest of them
        # (600m here), not the sum, and more than its app containers (100m).
        await api.create(PODS, with_requests("init-heavy", {"cpu": "100m"}, init=[{"cpu": "600m"}]))
        await rejected(
            api, "init-heavy", "OutOfcpu", "cpu, requested: 600, used: 1500, capacity: 2000"
        )
        await api.create(
            PODS,
            with_requests(
                "init-light",
                containers=[{"cpu": "200m"}, {"cpu": "200m"}],
                init=[{"cpu": "400m"}, {"cpu": "300m"}],
            ),
        )
        await wait_for(api, PODS, "init-light", phase_is("Running"))  # max(400, 200+200)
        await api.create(PODS, with_requests("crumb", {"cpu": "200m"}))
        await rejected(api, "crumb", "OutOfcpu", "cpu, requested: 200, used: 1900, capacity: 2000")
        assert created(provider) == ["big", "init-light"]


async def test_memory_over_allocatable_is_out_of_memory(api, node_config):
    provider = SizedProvider()
    async with running(provider, node_config()) as agent:
        await api.create(PODS, with_requests("hog", {"memory": "2Gi"}))
        await rejected(
            api,
            "hog",
            "OutOfmemory",
            "memory, requested: 2147483648, used: 0, capacity: 1073741824",
        )
        (event,) = await warning_events(api, agent, "hog")
        assert event["reason"] == "OutOfmemory"
        # Requests default to limits (the API server's defaulting): limits alone count.
        await api.create(PODS, with_requests("capped", limits={"memory": "768Mi"}))
        await wait_for(api, PODS, "capped", phase_is("Running"))
        await api.create(PODS, with_requests("also-capped", limits={"memory": "512Mi"}))
        await rejected(
            api,
            "also-capped",
            "OutOfmemory",
            "memory, requested: 536870912, used: 805306368, capacity: 1073741824",
        )
        assert created(provider) == ["capped"]


async def test_extended_resource_over_allocatable(api, node_config):
    provider = SizedProvider()
    async with running(provider, node_config()):
        await api.create(PODS, with_requests("two", {"example.com/widgets": "2"}))
        await wait_for(api, PODS, "two", phase_is("Running"))
        await api.create(PODS, with_requests("two-more", {"example.com/widgets": "2"}))
        await rejected(
            api,
            "two-more",
            "OutOfexample.com/widgets",
            "example.com/widgets, requested: 2, used: 2, capacity: 3",
        )
        # An extended resource the node does not advertise at all is a cluster-level
        # one: kubelet ignores it.
        await api.create(PODS, with_requests("cluster", {"example.org/licences": "5"}))
        await wait_for(api, PODS, "cluster", phase_is("Running"))


async def test_pods_without_requests_are_admitted_by_count_only(api, node_config):
    provider = SizedProvider()
    async with running(provider, node_config(pods={"max_pods": 3})):
        await api.create(PODS, with_requests("all-cpu", {"cpu": "2", "memory": "1Gi"}))
        await wait_for(api, PODS, "all-cpu", phase_is("Running"))
        await api.create(PODS, pod_manifest("free-0"))
        await api.create(PODS, pod_manifest("free-1"))
        await wait_for(api, PODS, "free-0", phase_is("Running"))
        await wait_for(api, PODS, "free-1", phase_is("Running"))
        await api.create(PODS, pod_manifest("free-2"))
        await rejected(api, "free-2", "OutOfpods", "pods, requested: 1, used: 3, capacity: 3")


async def test_running_pods_still_count_after_an_agent_restart(api, node_config, provider):
    async with running(provider, node_config(pods={"max_pods": 2})):
        for name in ("a", "b", "c"):
            await api.create(PODS, pod_manifest(name))
        await wait_for(api, PODS, "a", phase_is("Running"))
        await wait_for(api, PODS, "b", phase_is("Running"))
        await rejected(api, "c", "OutOfpods", "pods, requested: 1, used: 2, capacity: 2")
        provider.calls.clear()
    provider.shut_down = False
    # The provider still runs a and b; the new agent adopts them and counts them.
    async with running(provider, node_config(pods={"max_pods": 2})) as agent:
        await agent.syncer.workers.idle(5)
        await api.create(PODS, pod_manifest("d"))
        await rejected(api, "d", "OutOfpods", "pods, requested: 1, used: 2, capacity: 2")
        assert provider.calls_of("create") == []
        assert (await api.get(pod_path("default", "c")))["status"]["phase"] == "Failed"


def test_a_relist_offers_pods_oldest_first():
    seen: list[str] = []
    watcher = PodWatcher(
        None,  # type: ignore[arg-type]  # replace() never calls the API
        "node-a",
        on_changed=lambda pod: seen.append(pod["metadata"]["name"]),
        on_gone=lambda pod: None,
        metrics=None,  # type: ignore[arg-type]
    )

    def pod(name: str, created_at: str) -> KubeObject:
        return {
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": name,
                "creationTimestamp": created_at,
            },
            "spec": {"nodeName": "node-a"},
        }

    watcher.replace(
        [
            pod("a-newest", "2026-01-01T00:00:09Z"),
            pod("b-oldest", "2026-01-01T00:00:01Z"),
            pod("c-tie-1", "2026-01-01T00:00:05Z"),
            pod("d-tie-2", "2026-01-01T00:00:05Z"),
        ]
    )
    assert seen == ["b-oldest", "c-tie-1", "d-tie-2", "a-newest"]


def test_effective_requests_count_sidecars_and_overhead():
    pod = with_requests(
        "sidecar",
        {"cpu": "100m", "memory": "64Mi"},
        init=[{"cpu": "200m"}, {"cpu": "500m", "memory": "32Mi"}],
    )
    pod["spec"]["initContainers"][0]["restartPolicy"] = "Always"  # a sidecar: keeps running
    pod["spec"]["overhead"] = {"cpu": "50m"}
    requests = pod_requests(pod)
    # app 100m + sidecar 200m = 300m; the second init container runs beside the
    # sidecar: 500m + 200m = 700m, the peak; plus 50m overhead.
    assert requests["cpu"] == Fraction(750, 1000)
    assert requests["memory"] == 64 * 2**20


def test_used_is_the_sum_of_the_held_pods_as_they_come_and_go():
    """The running total equals a fresh sum after every admit, hold and release."""
    allocatable = {"cpu": "4", "memory": "4Gi", "pods": "10", "example.com/widgets": "3"}
    admission = PodAdmission(lambda: allocatable)
    pods = [
        with_requests("a", {"cpu": "500m", "memory": "64Mi"}),
        with_requests("b", {"cpu": "250m", "example.com/widgets": "2"}),
        with_requests("c"),
    ]
    for index, pod in enumerate(pods):
        pod["metadata"]["uid"] = f"uid-{index}"

    def summed() -> dict[str, int]:
        total = {"pods": len(admission)}
        for requests in admission._held.values():
            for name, value in requests.items():
                total[name] = total.get(name, 0) + value
        return total

    assert admission.admit(pods[0]) is None
    admission.hold(pods[1])
    assert admission.admit(pods[2]) is None
    assert (
        admission.used()
        == summed()
        == {
            "pods": 3,
            "cpu": 750,
            "memory": 64 * 2**20,
            "example.com/widgets": 2,
        }
    )
    admission.release("uid-1")
    assert admission.used() == summed() == {"pods": 2, "cpu": 500, "memory": 64 * 2**20}
    admission.release("uid-1")  # twice: nothing more is freed
    admission.release("uid-0")
    admission.release("uid-2")
    assert admission.used() == summed() == {"pods": 0}
    allocatable["pods"] = "0"  # a changed allocatable is parsed again
    rejection = admission.admit(pods[0])
    assert rejection is not None and rejection.reason == "OutOfpods"
