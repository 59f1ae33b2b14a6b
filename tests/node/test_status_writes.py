"""How many status writes a pod start costs: one, when it starts quickly.

At kubelet's default budget (50 QPS, burst 100) every write counts: a pod
whose ContainerCreating status is written and then overtaken by Running
costs two.  The writer holds a pod's first Pending status briefly and writes
the newest status it has once it holds a rate-limit token.
"""

from __future__ import annotations

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
