"""events.k8s.io/v1 serves the same Events as core v1, with kube's field mapping."""

from __future__ import annotations

from tests.controlplane.conftest import Client

CORE = "/api/v1/namespaces/default/events"
V1 = "/apis/events.k8s.io/v1/namespaces/default/events"


async def test_discovery_lists_events_k8s_io(client: Client) -> None:
    group = await client.ok("GET", "/apis/events.k8s.io")
    assert group["preferredVersion"]["groupVersion"] == "events.k8s.io/v1"
    resources = await client.ok("GET", "/apis/events.k8s.io/v1")
    assert [r["name"] for r in resources["resources"]] == ["events"]


async def test_a_core_event_is_seen_in_events_k8s_io_and_back(client: Client) -> None:
    await client.ok(
        "POST",
        CORE,
        {
            "metadata": {"name": "pulled"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Pulled",
            "message": "Pulled the image",
            "type": "Normal",
            "count": 3,
            "source": {"component": "kubelet", "host": "n1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "n1",
        },
    )
    event = await client.ok("GET", f"{V1}/pulled")
    assert event["apiVersion"] == "events.k8s.io/v1" and event["kind"] == "Event"
    assert event["note"] == "Pulled the image"
    assert event["regarding"] == {"kind": "Pod", "name": "web", "namespace": "default"}
    assert event["reportingController"] == "kubelet"
    assert event["deprecatedCount"] == 3
    assert event["deprecatedSource"] == {"component": "kubelet", "host": "n1"}
    assert "message" not in event and "involvedObject" not in event
    listed = await client.ok("GET", V1, params={"fieldSelector": "regarding.name=web"})
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    assert [e["metadata"]["name"] for e in listed["items"]] == ["pulled"]
    assert (await client.ok("GET", V1, params={"fieldSelector": "regarding.name=x"}))["items"] == []


async def test_an_events_k8s_io_event_is_a_core_event(client: Client) -> None:
    watch = await client.watch(V1)
    created = await client.ok(
        "POST",
        V1,
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "scheduled"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Scheduled",
            "note": "Successfully assigned default/web to n1",
            "type": "Normal",
            "action": "Binding",
            "reportingController": "default-scheduler",
            "reportingInstance": "default-scheduler-1",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:05.000000Z"},
        },
    )
    assert created["note"] == "Successfully assigned default/web to n1"
    core = await client.ok("GET", f"{CORE}/scheduled")
    assert core["apiVersion"] == "v1"
    assert core["message"] == "Successfully assigned default/web to n1"
    assert core["involvedObject"]["name"] == "web"
    assert core["reportingComponent"] == "default-scheduler"
    assert core["series"] == {"count": 2, "lastObservedTime": "2026-01-01T00:00:05.000000Z"}
    event = await watch.next_non_bookmark()
    assert event["type"] == "ADDED" and event["object"]["note"] == created["note"]
    watch.close()
    patched = await client.ok(
        "PATCH", f"{V1}/scheduled", {"note": "again"}, content_type="application/merge-patch+json"
    )
    assert patched["note"] == "again"
    assert (await client.ok("GET", f"{CORE}/scheduled"))["message"] == "again"
    await client.ok("DELETE", f"{V1}/scheduled")
    assert (await client.get(f"{CORE}/scheduled"))[0] == 404
