"""Watch semantics: initial state, resume from a resourceVersion, 410 Gone, bookmarks,
timeouts, and selector filtering (including DELETED when an object stops matching)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_watch_without_resource_version_sends_current_state(client: Client) -> None:
    await client.ok("POST", PODS, pod("a"))
    watch = await client.watch(PODS)
    event = await watch.next()
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "a"
    await client.ok("POST", PODS, pod("b"))
    event = await watch.next()
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "b")
    watch.close()


async def test_resume_from_resource_version(client: Client) -> None:
    a = await client.ok("POST", PODS, pod("a"))
    await client.ok("POST", PODS, pod("b"))
    labelled = dict(a)
    labelled["metadata"] = dict(a["metadata"], labels={"k": "v"})
    modified = await client.ok("PUT", f"{PODS}/a", labelled)
    deleted = await client.ok("DELETE", f"{PODS}/b")
    watch = await client.watch(PODS, resourceVersion=a["metadata"]["resourceVersion"])
    seen = [await watch.next() for _ in range(3)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    assert (
        seen[1]["object"]["metadata"]["resourceVersion"] == modified["metadata"]["resourceVersion"]
    )
    # The DELETED event carries the deletion's own resourceVersion.
    assert (
        seen[2]["object"]["metadata"]["resourceVersion"] == deleted["metadata"]["resourceVersion"]
    )
    assert int(deleted["metadata"]["resourceVersion"]) > int(
        modified["metadata"]["resourceVersion"]
    )
    watch.close()


async def test_too_old_resource_version_is_410_gone(tmp_path: Path) -> None:
    async with (
        ControlPlane(tmp_path, scheduler=False, watch_history=3) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        first = await client.ok("POST", PODS, pod("p0"))
        for i in range(1, 6):
            await client.ok("POST", PODS, pod(f"p{i}"))
        watch = await client.watch(PODS, resourceVersion=first["metadata"]["resourceVersion"])
        event = await watch.next()
        assert event["type"] == "ERROR"
        status = event["object"]
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
        assert status["message"].startswith("too old resource version")
        assert await watch.ended()
        # A list continue token from before the window is 410 too.
        page = await client.ok("GET", PODS, params={"limit": "2"})
        token = page["metadata"]["continue"]
        for i in range(6, 10):
            await client.ok("POST", PODS, pod(f"p{i}"))
        status_code, body = await client.get(PODS, limit="2", **{"continue": token})
        assert status_code == 410 and body["reason"] == "Expired"


async def test_bookmarks_and_timeout(tmp_path: Path) -> None:
    async with (
        ControlPlane(tmp_path, scheduler=False, bookmark_interval=0.1) as cp,
        aiohttp.ClientSession() as session,
    ):
        client = Client(cp, session)
        created = await client.ok("POST", PODS, pod("a"))
        watch = await client.watch(
            PODS,
            resourceVersion=created["metadata"]["resourceVersion"],
            allowWatchBookmarks="true",
            timeoutSeconds="2",
        )
        event = await watch.next()
        assert event["type"] == "BOOKMARK"
        assert event["object"]["kind"] == "Pod"
        assert int(event["object"]["metadata"]["resourceVersion"]) >= int(
            created["metadata"]["resourceVersion"]
        )
        # More bookmarks may follow; then the stream ends at timeoutSeconds.
        while (line := await watch.resp.content.readline()) != b"":
            assert b'"BOOKMARK"' in line


async def test_send_initial_events_ends_with_bookmark(client: Client) -> None:
    await client.ok("POST", PODS, pod("a"))
    watch = await client.watch(
        PODS,
        sendInitialEvents="true",
        allowWatchBookmarks="true",
        resourceVersionMatch="NotOlderThan",
    )
    assert (await watch.next())["type"] == "ADDED"
    bookmark = await watch.next()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    watch.close()


async def test_label_selector_watch_sends_deleted_when_object_stops_matching(
    client: Client,
) -> None:
    body = pod("a")
    body["metadata"]["labels"] = {"app": "web"}
    created = await client.ok("POST", PODS, body)
    await client.ok("POST", PODS, pod("other"))
    watch = await client.watch(
        PODS, labelSelector="app=web", resourceVersion=created["metadata"]["resourceVersion"]
    )
    # 'other' does not match: nothing for it. Relabel 'a' so it no longer matches.
    changed = dict(created)
    changed["metadata"] = dict(created["metadata"], labels={"app": "db"})
    await client.ok("PUT", f"{PODS}/a", changed)
    event = await watch.next()
    assert event["type"] == "DELETED" and event["object"]["metadata"]["name"] == "a"
    assert event["object"]["metadata"]["labels"] == {"app": "web"}  # previous content
    # Relabel back: ADDED.
    current = await client.ok("GET", f"{PODS}/a")
    current["metadata"]["labels"] = {"app": "web"}
    await client.ok("PUT", f"{PODS}/a", current)
    event = await watch.next()
    assert event["type"] == "ADDED"
    watch.close()


async def test_field_selector_watch_across_namespaces(client: Client) -> None:
    await client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    watch = await client.watch(
        "/api/v1/pods", fieldSelector="spec.nodeName=n1", resourceVersion="1"
    )
    await client.ok("POST", PODS, pod("unbound"))
    await client.ok("POST", "/api/v1/namespaces/other/pods", pod("bound", nodeName="n1"))
    event = await watch.next()
    assert event["object"]["metadata"]["namespace"] == "other"
    assert event["object"]["metadata"]["name"] == "bound"
    watch.close()


async def test_list_selectors(client: Client) -> None:
    for name, labels in [("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})]:
        body = pod(name)
        body["metadata"]["labels"] = labels
        await client.ok("POST", PODS, body)

    async def names(**params: str) -> list[str]:
        listed = await client.ok("GET", PODS, params=params)
        return sorted(i["metadata"]["name"] for i in listed["items"])

    assert await names(labelSelector="tier=web") == ["a"]
    assert await names(labelSelector="tier==web") == ["a"]
    assert await names(labelSelector="tier!=web") == ["b", "c"]
    assert await names(labelSelector="tier in (web,db)") == ["a", "b"]
    assert await names(labelSelector="tier notin (web)") == ["b", "c"]
    assert await names(labelSelector="tier") == ["a", "b"]
    assert await names(labelSelector="!tier") == ["c"]
    assert await names(labelSelector="tier,env=prod") == ["a"]
    assert await names(fieldSelector="metadata.name=b") == ["b"]
    assert await names(fieldSelector="status.phase=Pending,metadata.name!=b") == ["a", "c"]
    status, body = await client.get(PODS, fieldSelector="spec.bogus=1")
    assert status == 400 and "field label not supported" in body["message"]


async def test_legacy_watch_path(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("a"))
    resp = await client.session.get(
        client.cp.url + "/api/v1/watch/namespaces/default/pods/a",
        params={"resourceVersion": created["metadata"]["resourceVersion"]},
        ssl=client.ssl,
    )
    from tests.controlplane.conftest import Watch

    watch = Watch(resp)
    await client.ok("POST", PODS, pod("b"))
    await client.ok(
        "PATCH",
        f"{PODS}/a",
        {"metadata": {"labels": {"x": "1"}}},
        content_type="application/merge-patch+json",
    )
    event = await watch.next()
    assert (event["type"], event["object"]["metadata"]["name"]) == ("MODIFIED", "a")
    watch.close()


async def test_stopping_the_server_ends_open_watches(tmp_path: Path) -> None:
    cp = ControlPlane(tmp_path, scheduler=False)
    await cp.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(cp, session)
            watch = await client.watch(PODS)
            await client.ok("POST", PODS, pod("a"))
            assert (await watch.next())["type"] == "ADDED"
            await cp.stop()
            assert await watch.ended()
    finally:
        await cp.stop()
