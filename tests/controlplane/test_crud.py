"""CRUD semantics: status codes, Status bodies, resourceVersions, optimistic concurrency."""

from __future__ import annotations

from tests.controlplane.conftest import Client, add_node, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_system_namespaces_and_default_service_accounts(client: Client) -> None:
    status, namespaces = await client.get("/api/v1/namespaces")
    assert status == 200
    names = {item["metadata"]["name"] for item in namespaces["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    for ns in names:
        sa = await client.ok("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")
        assert sa["kind"] == "ServiceAccount"


async def test_create_sets_metadata_and_defaults(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("web"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == "default" and meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert created["spec"]["restartPolicy"] == "Always"
    assert created["spec"]["terminationGracePeriodSeconds"] == 30
    assert created["status"]["phase"] == "Pending"
    fetched = await client.ok("GET", f"{PODS}/web")
    assert fetched == created


async def test_generate_name(client: Client) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "job-"}
    created = await client.ok("POST", PODS, body)
    assert created["metadata"]["name"].startswith("job-")
    assert len(created["metadata"]["name"]) == len("job-") + 5


async def test_errors_are_status_objects_like_kube_apiserver(client: Client) -> None:
    await client.ok("POST", PODS, pod("dup"))
    status, body = await client.post(PODS, pod("dup"))
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "dup" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "dup", "kind": "pods"},
        "code": 409,
    }
    status, body = await client.get(f"{PODS}/missing")
    assert (status, body["reason"], body["message"]) == (
        404,
        "NotFound",
        'pods "missing" not found',
    )
    status, body = await client.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/x")
    assert status == 404
    assert body["details"] == {"name": "x", "group": "coordination.k8s.io", "kind": "leases"}
    assert body["message"] == 'leases.coordination.k8s.io "x" not found'


async def test_invalid_pods_get_422(client: Client) -> None:
    status, body = await client.post(PODS, {"metadata": {"name": "bad"}, "spec": {}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Pod"
    assert body["details"]["causes"][0]["field"] == "spec.containers"
    bad = pod("bad2")
    bad["spec"]["containers"] = [{"name": "c"}]
    status, body = await client.post(PODS, bad)
    assert status == 422
    assert body["message"] == 'Pod "bad2" is invalid: spec.containers[0].image: Required value'
    status, body = await client.post(PODS, {"spec": pod("x")["spec"]})
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"


async def test_unknown_namespace_is_404(client: Client) -> None:
    status, body = await client.post("/api/v1/namespaces/nope/pods", pod("p"))
    assert status == 404 and body["message"] == 'namespaces "nope" not found'


async def test_optimistic_concurrency(client: Client) -> None:
    created = await client.ok(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "cfg"}, "data": {"a": "1"}},
    )
    first = dict(created, data={"a": "2"})
    updated = await client.ok("PUT", "/api/v1/namespaces/default/configmaps/cfg", first)
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    stale = dict(created, data={"a": "3"})
    status, body = await client.put("/api/v1/namespaces/default/configmaps/cfg", stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    # A no-op update keeps the resourceVersion.
    again = await client.ok("PUT", "/api/v1/namespaces/default/configmaps/cfg", updated)
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


async def test_resource_versions_increase_globally(client: Client) -> None:
    a = await client.ok("POST", PODS, pod("a"))
    b = await client.ok(
        "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}}
    )
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    listed = await client.ok("GET", PODS)
    assert int(listed["metadata"]["resourceVersion"]) >= int(b["metadata"]["resourceVersion"])


async def test_status_subresource_split(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("split"))
    # The main resource ignores status changes...
    changed = dict(created, status={"phase": "Running"})
    changed["metadata"] = dict(created["metadata"], labels={"x": "y"})
    updated = await client.ok("PUT", f"{PODS}/split", changed)
    assert updated["status"]["phase"] == "Pending"
    assert updated["metadata"]["labels"] == {"x": "y"}
    # ...and the status subresource ignores spec changes.
    body = dict(updated, status={"phase": "Running"})
    body["spec"] = dict(updated["spec"], activeDeadlineSeconds=5)
    body["metadata"] = dict(updated["metadata"], labels={"changed": "by-status"})
    result = await client.ok("PUT", f"{PODS}/split/status", body)
    assert result["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in result["spec"]
    assert result["metadata"]["labels"] == {"x": "y"}
    assert result["metadata"]["generation"] == 1


async def test_pod_spec_is_mostly_immutable(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("imm"))
    body = dict(created)
    body["spec"] = dict(created["spec"], restartPolicy="Never")
    status, err = await client.put(f"{PODS}/imm", body)
    assert status == 422 and err["details"]["causes"][0]["field"] == "spec"
    body["spec"] = dict(created["spec"])
    body["spec"]["containers"] = [dict(created["spec"]["containers"][0], image="example/app:2")]
    updated = await client.ok("PUT", f"{PODS}/imm", body)
    assert updated["metadata"]["generation"] == 2


async def test_nodes_and_leases(client: Client) -> None:
    node = await add_node(client, "n1")
    assert node["status"]["allocatable"]["pods"] == "110"
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    lease = await client.ok(
        "POST",
        leases,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": "n1",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "name": "n1",
                        "uid": node["metadata"]["uid"],
                    }
                ],
            },
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40},
        },
    )
    assert lease["apiVersion"] == "coordination.k8s.io/v1"
    # Lease updates need a resourceVersion (no unconditional updates).
    body = dict(lease)
    body["metadata"] = {k: v for k, v in lease["metadata"].items() if k != "resourceVersion"}
    status, _ = await client.put(
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", body
    )
    assert status == 422
    # Deleting the node garbage-collects the lease it owns.
    await client.ok("DELETE", "/api/v1/nodes/n1")

    async def lease_gone() -> bool:
        status, _ = await client.get(
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"
        )
        return status == 404

    from tests.controlplane.conftest import eventually

    await eventually(lease_gone)


async def test_unauthenticated_requests_get_401(client: Client) -> None:
    import ssl

    import aiohttp

    ctx = ssl.create_default_context(cafile=str(client.cp.pki.ca_cert_path))
    async with aiohttp.ClientSession() as session:
        async with session.get(client.cp.url + "/api/v1/pods", ssl=ctx) as resp:
            assert resp.status == 401
            body = await resp.json()
            assert body["reason"] == "Unauthorized" and body["kind"] == "Status"
        async with session.get(client.cp.url + "/healthz", ssl=ctx) as resp:
            assert resp.status == 200


async def test_unknown_fields_are_dropped_with_a_warning_or_refused_when_strict(
    client: Client,
) -> None:
    body = pod("typo")
    body["spec"]["containers"][0]["imagee"] = "oops"
    body["spec"]["bogus"] = True
    async with client.session.post(client.cp.url + PODS, json=body, ssl=client.ssl) as resp:
        assert resp.status == 201
        created = await resp.json()
        assert resp.headers.getall("Warning") == [
            '299 - "unknown field \\"spec.containers[0].imagee\\""',
            '299 - "unknown field \\"spec.bogus\\""',
        ]
    assert "imagee" not in created["spec"]["containers"][0] and "bogus" not in created["spec"]
    body["metadata"]["name"] = "typo2"
    status, err = await client.request("POST", PODS, body, params={"fieldValidation": "Strict"})
    assert status == 400 and err["reason"] == "BadRequest"
    assert err["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagee", unknown field "spec.bogus"'
    )
    status, err = await client.request(
        "PATCH",
        f"{PODS}/typo",
        {"metadata": {"labelz": {"a": "b"}}},
        content_type="application/merge-patch+json",
        params={"fieldValidation": "Strict"},
    )
    assert status == 400 and 'unknown field "metadata.labelz"' in err["message"]


async def test_secret_string_data_is_merged_into_data(client: Client) -> None:
    created = await client.ok(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"metadata": {"name": "s"}, "stringData": {"user": "admin"}, "data": {"x": "eA=="}},
    )
    assert created["type"] == "Opaque"
    assert created["data"] == {"x": "eA==", "user": "YWRtaW4="}
    assert "stringData" not in created


async def test_pod_service_account_must_exist(client: Client) -> None:
    status, body = await client.post(PODS, pod("p", serviceAccountName="robot"))
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods "p" is forbidden: error looking up service account default/robot: '
        'serviceaccount "robot" not found'
    )
    await client.ok(
        "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}}
    )
    created = await client.ok("POST", PODS, pod("p", serviceAccountName="robot"))
    assert created["spec"]["serviceAccount"] == "robot"


async def test_new_namespace_is_ready_for_pods_at_once(client: Client) -> None:
    await client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "fresh"}})
    await client.ok("POST", "/api/v1/namespaces/fresh/pods", pod("p"))
    root_ca = await client.ok("GET", "/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt")
    assert root_ca["data"]["ca.crt"] == client.cp.pki.ca_cert_path.read_text()


async def test_immutable_configmap(client: Client) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    await client.ok(
        "POST", path, {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    status, body = await client.patch(
        f"{path}/frozen", {"data": {"a": "2"}}, "application/merge-patch+json"
    )
    assert status == 422 and body["details"]["causes"][0]["field"] == "data"
    labelled = await client.ok(
        "PATCH",
        f"{path}/frozen",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    assert labelled["metadata"]["labels"] == {"x": "y"}
