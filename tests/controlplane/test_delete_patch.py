"""Patch formats, graceful and forced pod deletion, preconditions, namespace deletion."""

from __future__ import annotations

from tests.controlplane.conftest import Client, eventually, pod

PODS = "/api/v1/namespaces/default/pods"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSONPATCH = "application/json-patch+json"


async def test_merge_patch(client: Client) -> None:
    body = pod("p")
    body["metadata"]["labels"] = {"a": "1", "b": "2"}
    await client.ok("POST", PODS, body)
    patched = await client.ok(
        "PATCH", f"{PODS}/p", {"metadata": {"labels": {"a": None, "c": "3"}}}, content_type=MERGE
    )
    assert patched["metadata"]["labels"] == {"b": "2", "c": "3"}


async def test_strategic_merge_patch_merges_containers_by_name(client: Client) -> None:
    body = pod("p")
    body["spec"]["containers"] = [
        {"name": "a", "image": "img/a:1"},
        {"name": "b", "image": "img/b:1"},
    ]
    await client.ok("POST", PODS, body)
    patched = await client.ok(
        "PATCH",
        f"{PODS}/p",
        {"spec": {"containers": [{"name": "b", "image": "img/b:2"}]}},
        content_type=STRATEGIC,
    )
    images = [(c["name"], c["image"]) for c in patched["spec"]["containers"]]
    assert images == [("a", "img/a:1"), ("b", "img/b:2")]
    assert patched["metadata"]["generation"] == 2
    # A merge patch replaces the whole list instead (and here that is an invalid update).
    status, err = await client.patch(
        f"{PODS}/p", {"spec": {"containers": [{"name": "b", "image": "img/b:3"}]}}, MERGE
    )
    assert status == 422 and err["reason"] == "Invalid"


async def test_strategic_merge_status_conditions_by_type(client: Client) -> None:
    await client.ok("POST", PODS, pod("p"))
    path = f"{PODS}/p/status"
    await client.ok(
        "PATCH",
        path,
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "Initialized", "status": "True"},
                ]
            }
        },
        content_type=STRATEGIC,
    )
    patched = await client.ok(
        "PATCH",
        path,
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        content_type=STRATEGIC,
    )
    conditions = {c["type"]: c["status"] for c in patched["status"]["conditions"]}
    assert conditions == {"Ready": "True", "Initialized": "True"}
    assert patched["status"]["phase"] == "Running"
    # $patch: delete removes one element.
    patched = await client.ok(
        "PATCH",
        path,
        {"status": {"conditions": [{"type": "Initialized", "$patch": "delete"}]}},
        content_type=STRATEGIC,
    )
    assert [c["type"] for c in patched["status"]["conditions"]] == ["Ready"]


async def test_json_patch(client: Client) -> None:
    await client.ok("POST", PODS, pod("p"))
    patched = await client.ok(
        "PATCH",
        f"{PODS}/p",
        [
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "example/app:9"},
        ],
        content_type=JSONPATCH,
    )
    assert patched["metadata"]["labels"] == {"x": "y"}
    assert patched["spec"]["containers"][0]["image"] == "example/app:9"
    status, err = await client.patch(
        f"{PODS}/p", [{"op": "test", "path": "/metadata/name", "value": "other"}], JSONPATCH
    )
    # kube-apiserver: 422 Invalid with its generic text (409 would mean "retry").
    assert (status, err["reason"], err["message"]) == (
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )
    status, err = await client.patch(f"{PODS}/p", {"op": "add"}, JSONPATCH)
    assert (status, err["reason"], err["message"]) == (
        400,
        "BadRequest",
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    )
    status, err = await client.patch(
        f"{PODS}/p", [{"op": "replace", "path": "/metadata/name", "value": "q"}], JSONPATCH
    )
    assert (status, err["reason"], err["message"]) == (
        400,
        "BadRequest",
        "the name of the object (q) does not match the name on the URL (p)",
    )


async def test_patch_with_stale_resource_version_conflicts(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("p"))
    await client.ok("PATCH", f"{PODS}/p", {"metadata": {"labels": {"a": "1"}}}, content_type=MERGE)
    status, err = await client.patch(
        f"{PODS}/p",
        {
            "metadata": {
                "labels": {"a": "2"},
                "resourceVersion": created["metadata"]["resourceVersion"],
            }
        },
        MERGE,
    )
    assert status == 409 and err["reason"] == "Conflict"


async def test_server_side_apply_is_refused_clearly(client: Client) -> None:
    await client.ok("POST", PODS, pod("p"))
    status, err = await client.patch(
        f"{PODS}/p", {"metadata": {"name": "p"}}, "application/apply-patch+yaml"
    )
    assert status == 415 and "server-side apply" in err["message"]


async def test_unbound_pod_is_deleted_at_once(client: Client) -> None:
    await client.ok("POST", PODS, pod("p"))
    deleted = await client.ok("DELETE", f"{PODS}/p")
    assert deleted["metadata"]["name"] == "p"
    status, _ = await client.get(f"{PODS}/p")
    assert status == 404


async def test_bound_pod_deletion_is_graceful(client: Client) -> None:
    await client.ok("POST", PODS, pod("p", nodeName="n1", terminationGracePeriodSeconds=7))
    status, marked = await client.delete(f"{PODS}/p")
    assert status == 200
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 7
    assert marked["metadata"]["deletionTimestamp"]
    still = await client.ok("GET", f"{PODS}/p")
    assert still["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    # An explicit shorter grace period shortens it.
    status, shorter = await client.delete(
        f"{PODS}/p", {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 3}
    )
    assert status == 200 and shorter["metadata"]["deletionGracePeriodSeconds"] == 3
    # The kubelet confirms with grace 0 and a uid precondition: gone.
    status, _ = await client.delete(
        f"{PODS}/p", {"gracePeriodSeconds": 0, "preconditions": {"uid": marked["metadata"]["uid"]}}
    )
    assert status == 200
    assert (await client.get(f"{PODS}/p"))[0] == 404


async def test_a_terminated_status_in_the_grace_period_is_kept(client: Client) -> None:
    """kube's ShouldDeleteDuringUpdate: only a zero grace period ends with an update.

    The kubelet writes its pod's last status (exit codes) during the grace
    period; watchers must see it, and the pod stays until its grace-0 delete.
    """
    await client.ok("POST", PODS, pod("p", nodeName="n1", terminationGracePeriodSeconds=30))
    marked = await client.ok("DELETE", f"{PODS}/p")
    marked["status"] = {"phase": "Failed"}
    written = await client.ok("PUT", f"{PODS}/p/status", marked)
    assert written["status"]["phase"] == "Failed"
    kept = await client.ok("GET", f"{PODS}/p")
    assert kept["status"]["phase"] == "Failed" and kept["metadata"]["deletionTimestamp"]
    await client.ok("DELETE", f"{PODS}/p", {"gracePeriodSeconds": 0})
    assert (await client.get(f"{PODS}/p"))[0] == 404


async def test_terminal_bound_pod_is_deleted_at_once(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("p", nodeName="n1"))
    created["status"] = {"phase": "Succeeded"}
    await client.ok("PUT", f"{PODS}/p/status", created)
    await client.ok("DELETE", f"{PODS}/p")
    assert (await client.get(f"{PODS}/p"))[0] == 404


async def test_force_delete_with_query_grace_period(client: Client) -> None:
    await client.ok("POST", PODS, pod("p", nodeName="n1"))
    status, _ = await client.delete(f"{PODS}/p", gracePeriodSeconds="0")
    assert status == 200
    assert (await client.get(f"{PODS}/p"))[0] == 404


async def test_delete_preconditions(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("p"))
    status, err = await client.delete(f"{PODS}/p", {"preconditions": {"uid": "wrong"}})
    assert status == 409 and err["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: wrong" in err["message"]
    status, err = await client.delete(f"{PODS}/p", {"preconditions": {"resourceVersion": "1"}})
    assert status == 409 and "ResourceVersion in precondition: 1" in err["message"]
    status, _ = await client.delete(
        f"{PODS}/p",
        {
            "preconditions": {
                "uid": created["metadata"]["uid"],
                "resourceVersion": created["metadata"]["resourceVersion"],
            }
        },
    )
    assert status == 200


async def test_finalizers_hold_deletion(client: Client) -> None:
    body = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    await client.ok("POST", "/api/v1/namespaces/default/configmaps", body)
    marked = await client.ok("DELETE", "/api/v1/namespaces/default/configmaps/held")
    assert marked["metadata"]["deletionTimestamp"]
    await client.ok(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/held",
        {"metadata": {"finalizers": None}},
        content_type=MERGE,
    )
    assert (await client.get("/api/v1/namespaces/default/configmaps/held"))[0] == 404


async def test_namespace_deletion_removes_contents(client: Client) -> None:
    await client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}})
    await client.ok("POST", "/api/v1/namespaces/tmp/pods", pod("p"))
    await client.ok("POST", "/api/v1/namespaces/tmp/configmaps", {"metadata": {"name": "c"}})
    deleted = await client.ok("DELETE", "/api/v1/namespaces/tmp")
    assert deleted["status"]["phase"] == "Terminating"

    async def gone() -> bool:
        return (await client.get("/api/v1/namespaces/tmp"))[0] == 404

    await eventually(gone)
    listed = await client.ok("GET", "/api/v1/namespaces/tmp/pods")
    assert listed["items"] == []
    status, err = await client.delete("/api/v1/namespaces/default")
    assert status == 403 and err["reason"] == "Forbidden"


async def test_eviction_deletes_gracefully(client: Client) -> None:
    await client.ok("POST", PODS, pod("p", nodeName="n1"))
    status, body = await client.post(
        f"{PODS}/p/eviction",
        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}},
    )
    assert status == 201 and body["status"] == "Success"
    evicted = await client.ok("GET", f"{PODS}/p")
    assert evicted["metadata"]["deletionGracePeriodSeconds"] == 30


async def test_delete_collection_with_selector(client: Client) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        body = pod(name)
        body["metadata"]["labels"] = {"app": app}
        await client.ok("POST", PODS, body)
    deleted = await client.ok("DELETE", PODS, params={"labelSelector": "app=x"})
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["a", "b"]
    left = await client.ok("GET", PODS)
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


async def test_event_namespace_must_match(client: Client) -> None:
    status, body = await client.post(
        "/api/v1/namespaces/default/events",
        {
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "kube-system"},
            "reason": "X",
        },
    )
    assert status == 422 and body["details"]["causes"][0]["field"] == "involvedObject.namespace"
