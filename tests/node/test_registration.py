"""Registration, node status and shutdown, against the embedded control plane."""

from __future__ import annotations

import os

from kubelet_core._apiclient import node_path
from kubelet_core._node import KUBELET_VERSION
from tests.node.conftest import condition, running, wait_for
from tests.node.scripted import ScriptedProvider


async def test_registers_node_with_host_capacity_labels_taints_and_info(api, node_config, provider):
    async with running(
        provider, node_config(identity={"labels": {"team": "wasm"}}, pods={"max_pods": 42})
    ) as agent:
        node = await api.get(node_path("node-a"))
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == "node-a"
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "wasm32-wasi"
        assert labels["type"] == "wasmlet"
        assert labels["team"] == "wasm"
        assert labels["wasmlet.io/provider"] == "scripted"
        assert {"key": "wasmlet.io/scripted", "value": "true", "effect": "NoSchedule"} in node[
            "spec"
        ]["taints"]
        status = node["status"]
        assert status["capacity"]["cpu"] == str(os.cpu_count())
        assert status["capacity"]["pods"] == "42"
        assert status["capacity"]["example.com/widgets"] == "3"
        assert status["capacity"]["memory"].endswith("Ki")
        assert int(status["allocatable"]["ephemeral-storage"][:-2]) > 0
        assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
        assert {"type": "Hostname", "address": "node-a"} in status["addresses"]
        info = status["nodeInfo"]
        assert info["kubeletVersion"] == KUBELET_VERSION
        assert info["containerRuntimeVersion"] == "scripted://1.0"
        assert info["architecture"] == "wasm32-wasi"
        assert info["operatingSystem"] == "linux"
        port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        assert port == agent.kubelet_api.port > 0
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            assert condition(node, kind)["status"] == "False"
        ready = condition(node, "Ready")
        assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
        assert ready["lastHeartbeatTime"] and ready["lastTransitionTime"]
        assert node["metadata"]["uid"] == agent.node_uid


async def test_stop_marks_node_not_ready(api, node_config, provider):
    async with running(provider, node_config()):
        pass
    node = await api.get(node_path("node-a"))
    ready = condition(node, "Ready")
    assert ready == {
        **ready,
        "status": "False",
        "reason": "KubeletNotReady",
        "message": "wasmlet is shutting down",
    }
    assert provider.shut_down


async def test_reregistration_keeps_what_others_wrote(api, node_config, provider):
    async with running(provider, node_config()) as first:
        uid = first.node_uid
    # Others label, taint and condition the node while the agent is away.
    node = await api.get(node_path("node-a"))
    await api.patch(
        node_path("node-a"),
        {
            "metadata": {"labels": {"example.com/rack": "r1", "type": "overwritten"}},
            "spec": {
                "taints": [
                    *node["spec"]["taints"],
                    {"key": "example.com/maintenance", "effect": "NoSchedule"},
                ]
            },
        },
    )
    conditions = [
        *node["status"]["conditions"],
        {
            "type": "NetworkUnavailable",
            "status": "False",
            "reason": "RouteCreated",
            "message": "set by the route controller",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        },
    ]
    await api.patch(node_path("node-a") + "/status", {"status": {"conditions": conditions}})

    async with running(ScriptedProvider(), node_config()) as second:
        assert second.node_uid == uid
        node = await wait_for(
            api, "/api/v1/nodes", "node-a", lambda n: condition(n, "Ready")["status"] == "True"
        )
        assert node["metadata"]["labels"]["example.com/rack"] == "r1"
        assert node["metadata"]["labels"]["type"] == "wasmlet"  # ours is restored
        keys = [t["key"] for t in node["spec"]["taints"]]
        assert keys.count("wasmlet.io/scripted") == 1
        assert "example.com/maintenance" in keys
        foreign = condition(node, "NetworkUnavailable")
        assert foreign is not None and foreign["reason"] == "RouteCreated"
        # A heartbeat later the foreign condition is still there.
        beat = condition(node, "Ready")["lastHeartbeatTime"]
        node = await wait_for(
            api,
            "/api/v1/nodes",
            "node-a",
            lambda n: condition(n, "Ready")["lastHeartbeatTime"] != beat,
        )
        assert condition(node, "NetworkUnavailable")["reason"] == "RouteCreated"


async def test_node_status_heartbeat_keeps_transition_time(api, node_config, provider):
    async with running(
        provider, node_config(heartbeat={"node_status_report_frequency_seconds": 1.0})
    ):
        node = await api.get(node_path("node-a"))
        first = condition(node, "Ready")
        node = await wait_for(
            api,
            "/api/v1/nodes",
            "node-a",
            lambda n: condition(n, "Ready")["lastHeartbeatTime"] != first["lastHeartbeatTime"],
        )
        again = condition(node, "Ready")
        assert again["lastTransitionTime"] == first["lastTransitionTime"]
        assert again["status"] == "True"


async def test_deleted_node_is_registered_again(api, node_config, provider):
    async with running(
        provider, node_config(heartbeat={"node_status_report_frequency_seconds": 0.5})
    ) as agent:
        old_uid = agent.node_uid
        await api.delete(node_path("node-a"))
        node = await wait_for(
            api, "/api/v1/nodes", "node-a", lambda n: n["metadata"]["uid"] != old_uid
        )
        assert node["metadata"]["labels"]["type"] == "wasmlet"
        new_uid = node["metadata"]["uid"]
        # The Lease follows the new Node (its owner reference is what GC keys on).
        await wait_for(
            api,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            "node-a",
            lambda lease: lease["metadata"]["ownerReferences"][0]["uid"] == new_uid,
        )
        assert agent.node_uid == new_uid
