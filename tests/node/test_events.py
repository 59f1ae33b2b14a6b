"""The event recorder: real Events, aggregation of repeats, per-object rate limit."""

from __future__ import annotations

from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import KubeEventRecorder
from tests.node.conftest import pod_manifest

EVENTS = "/api/v1/namespaces/default/events"


async def _events(api, name):
    listing = await api.get(EVENTS, params={"fieldSelector": f"involvedObject.name={name}"})
    ours = [e for e in listing["items"] if e["source"].get("component") == "wasmlet"]
    return sorted(ours, key=lambda e: e["reason"])


async def test_repeats_are_aggregated_into_a_count(api):
    pod = await api.create("/api/v1/namespaces/default/pods", pod_manifest("ev", node=None))
    recorder = KubeEventRecorder(api, node_name="node-a", metrics=AgentMetrics())
    recorder.start()
    try:
        for _ in range(3):
            recorder(pod, "Warning", "BackOff", "Back-off restarting failed container")
        recorder(pod, "Normal", "Pulled", "Successfully pulled image")
        assert await recorder.flush(5)
    finally:
        await recorder.stop()
    backoff, pulled = await _events(api, "ev")
    assert backoff["reason"] == "BackOff" and backoff["count"] == 3
    assert backoff["firstTimestamp"] <= backoff["lastTimestamp"]
    assert backoff["involvedObject"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": "ev",
        "namespace": "default",
        "uid": pod["metadata"]["uid"],
        "resourceVersion": pod["metadata"]["resourceVersion"],
    }
    assert backoff["reportingComponent"] == "wasmlet"
    assert backoff["reportingInstance"] == "node-a"
    assert pulled["count"] == 1 and pulled["type"] == "Normal"


async def test_excess_events_are_dropped_not_raised(api):
    pod = await api.create("/api/v1/namespaces/default/pods", pod_manifest("spam", node=None))
    metrics = AgentMetrics()
    recorder = KubeEventRecorder(api, node_name="node-a", metrics=metrics, burst=2)
    recorder.start()
    try:
        for index in range(5):
            recorder(pod, "Normal", f"Reason{index}", "m")
        recorder({"garbage": True}, "Normal", "Odd", "an object without metadata")  # no raise
        assert await recorder.flush(5)
    finally:
        await recorder.stop()
    assert [e["reason"] for e in await _events(api, "spam")] == ["Reason0", "Reason1"]
    dropped = metrics.registry.get_sample_value(
        "wasmlet_events_dropped_total", {"cause": "rate_limited"}
    )
    assert dropped == 3


async def test_recording_from_another_thread(api):
    import asyncio

    pod = await api.create("/api/v1/namespaces/default/pods", pod_manifest("thr", node=None))
    recorder = KubeEventRecorder(api, node_name="node-a", metrics=AgentMetrics())
    recorder.start()
    try:
        await asyncio.to_thread(recorder, pod, "Normal", "Started", "from a worker thread")
        await asyncio.sleep(0)  # let the loop run the forwarded call
        assert await recorder.flush(5)
    finally:
        await recorder.stop()
    assert [e["reason"] for e in await _events(api, "thr")] == ["Started"]
