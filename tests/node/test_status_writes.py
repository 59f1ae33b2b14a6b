"""How many status writes a pod start costs: one, when it starts quickly.

At kubelet's default budget (50 QPS, burst 100) every write counts: a pod
whose ContainerCreating status is written and then overtaken by Running
costs two.  The writer holds a pod's first Pending status briefly and writes
the newest status it has once it holds a rate-limit token.
"""

from __future__ import annotations

import asyncio

from kubelet_core._apiclient import KubeApi, pod_path
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods.status import PodStatusWriter
from kubelet_core._provider import KubeObject
from tests.node.conftest import pod_manifest, wait_for

PODS = "/api/v1/namespaces/default/pods"

CREATING: KubeObject = {
    "phase": "Pending",
    "containerStatuses": [
        {"name": "c0", "ready": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
    ],
}
RUNNING: KubeObject = {
    "phase": "Running",
    "containerStatuses": [
        {
            "name": "c0",
            "ready": True,
            "started": True,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        }
    ],
}


def waiting_reason(pod: KubeObject) -> str | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0]["state"].get("waiting", {}).get("reason") if statuses else None


async def test_a_quick_start_costs_one_status_write(api: KubeApi) -> None:
    pod = await api.create(PODS, pod_manifest("quick"))
    writer = PodStatusWriter(api, node_ip="127.0.0.1", metrics=AgentMetrics())
    writer.observe(pod)
    writer.start()
    try:
        writer.notify(pod, CREATING)
        await api.get(pod_path("default", "quick"))  # a round trip: the writers had their turn
        writer.notify(pod, RUNNING)
        assert await writer.flush(5)
        assert writer.writes == 1
        written = await api.get(pod_path("default", "quick"))
        assert written["status"]["phase"] == "Running"
        # The one write is the pod's only status change after creation.
        assert int(written["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])
    finally:
        await writer.stop()


async def test_a_slow_start_shows_pending_after_the_hold(api: KubeApi) -> None:
    pod = await api.create(PODS, pod_manifest("slow"))
    writer = PodStatusWriter(
        api, node_ip="127.0.0.1", metrics=AgentMetrics(), first_pending_hold=0.2
    )
    writer.observe(pod)
    writer.start()
    try:
        writer.notify(pod, CREATING)
        shown = await wait_for(
            api, PODS, "slow", lambda p: waiting_reason(p) == "ContainerCreating", timeout=5
        )
        assert shown["status"]["phase"] == "Pending"
        assert await writer.flush(5)
        assert writer.writes == 1
        # Later Pending statuses of the same pod are not held: it was reported.
        writer.notify(pod, {**CREATING, "message": "pulling"})
        assert await writer.flush(5)
        assert writer.writes == 2
    finally:
        await writer.stop()


async def test_flush_releases_a_held_status(api: KubeApi) -> None:
    pod = await api.create(PODS, pod_manifest("flushed"))
    writer = PodStatusWriter(
        api, node_ip="127.0.0.1", metrics=AgentMetrics(), first_pending_hold=60.0
    )
    writer.observe(pod)
    writer.start()
    try:
        writer.notify(pod, CREATING)
        assert await writer.flush(5)
        written = await api.get(pod_path("default", "flushed"))
        assert waiting_reason(written) == "ContainerCreating"
    finally:
        await writer.stop()


async def test_a_status_waiting_for_the_budget_is_replaced_by_a_newer_one(api: KubeApi) -> None:
    """The token is taken before the status is picked, so the newest one is written."""
    first = await api.create(PODS, pod_manifest("first"))
    second = await api.create(PODS, pod_manifest("second"))
    budget = api.with_rate_limit(1, 1)
    writer = PodStatusWriter(
        budget, node_ip="127.0.0.1", metrics=AgentMetrics(), writers=1, first_pending_hold=0
    )
    writer.observe(first)
    writer.observe(second)
    writer.start()
    try:
        writer.notify(first, RUNNING)  # spends the burst of 1
        writer.notify(second, CREATING)  # waits ~1 s for the next token...
        await wait_for(api, PODS, "first", lambda p: p["status"].get("phase") == "Running")
        writer.notify(second, RUNNING)  # ...and this replaces it meanwhile
        assert await writer.flush(5)
        assert writer.writes == 2
        written = await api.get(pod_path("default", "second"))
        assert written["status"]["phase"] == "Running"
    finally:
        await writer.stop()


async def test_a_pod_queued_behind_others_starts_its_hold_when_they_have_started(
    api: KubeApi,
) -> None:
    """In a burst a pod's hold begins once the pods before it are under way.

    ``slow`` stays Pending past its hold: its ContainerCreating is written.
    ``queued`` came after it, so its own hold only begins then: its Running,
    arriving right after ``slow``'s Pending write, is its only write.
    """
    pods = [await api.create(PODS, pod_manifest(name)) for name in ("quick", "slow", "queued")]
    writer = PodStatusWriter(api, node_ip="127.0.0.1", metrics=AgentMetrics())
    for pod in pods:
        writer.observe(pod)
    writer.start()
    try:
        quick, _slow, queued = pods
        for pod in pods:
            writer.notify(pod, CREATING)
        writer.notify(quick, RUNNING)
        await wait_for(api, PODS, "slow", lambda p: waiting_reason(p) == "ContainerCreating")
        writer.notify(queued, RUNNING)  # within a second of becoming the oldest held
        await wait_for(api, PODS, "queued", lambda p: p["status"].get("phase") == "Running")
        assert await writer.flush(5)
        assert writer.writes == 3  # quick: Running; slow: Pending; queued: Running
    finally:
        await writer.stop()


async def test_no_first_status_is_held_longer_than_the_longest_hold(api: KubeApi) -> None:
    """However long the queue, a Pending status shows after ``longest_pending_hold``.

    Five pods that never start, a 1 s hold: queued one behind the other, the
    fifth would be released after 5 s; the longest hold (1.2 s) lets it out first.
    """
    names = [f"stuck-{i}" for i in range(5)]
    pods = [await api.create(PODS, pod_manifest(name)) for name in names]
    writer = PodStatusWriter(
        api,
        node_ip="127.0.0.1",
        metrics=AgentMetrics(),
        first_pending_hold=1.0,
        longest_pending_hold=1.2,
    )
    for pod in pods:
        writer.observe(pod)
    writer.start()
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        for pod in pods:
            writer.notify(pod, CREATING)
        await wait_for(api, PODS, names[-1], lambda p: waiting_reason(p) == "ContainerCreating")
        assert loop.time() - began < 4.0  # released by the longest hold, not its turn (5 s)
        assert await writer.flush(5)
        assert writer.writes == 5
    finally:
        await writer.stop()
