"""A Service's EndpointSlice from pods a real node agent runs (the simulated provider).

The agent reports a pod's IP as its node's IP (a wasm pod shares the node's network)
and its Ready condition; the EndpointSlice controller turns those into the endpoint
address and conditions, and the named containerPort into the endpoint port.
"""

from __future__ import annotations

from typing import Any

from kubelet_core.testing import ClusterHarness, SimulatedProvider

SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


async def test_endpoint_slice_of_pods_run_by_a_node_agent(cluster: ClusterHarness) -> None:
    async with cluster.node(SimulatedProvider(), "sim-1"):
        manifest: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "echo", "labels": {"app": "echo"}},
            "spec": {
                "nodeName": "sim-1",
                "containers": [
                    {
                        "name": "main",
                        "image": "example/echo:1",
                        "ports": [{"name": "http", "containerPort": 8080}],
                    }
                ],
            },
        }
        await cluster.create_pod(manifest)
        pod = await cluster.wait_for_pod(
            "default",
            "echo",
            lambda p: any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            ),
        )
        await cluster.api.request(
            "POST",
            "/api/v1/namespaces/default/services",
            body={
                "metadata": {"name": "echo"},
                "spec": {
                    "selector": {"app": "echo"},
                    "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
                },
            },
        )
        node = await cluster.api.request("GET", "/api/v1/nodes/sim-1")
        node_ip = next(
            a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"
        )
        assert pod["status"]["podIP"] == node_ip

        def listed(slice_: dict[str, Any]) -> bool:
            return bool(slice_.get("endpoints"))

        # The slice's name is generated: watch the Service's slices by label.
        slice_ = await wait_for_slice(cluster, "echo", listed)
        (endpoint,) = slice_["endpoints"]
        assert endpoint["addresses"] == [node_ip]
        assert endpoint["conditions"]["ready"] is True
        assert endpoint["nodeName"] == "sim-1"
        assert slice_["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]


async def wait_for_slice(cluster: ClusterHarness, service: str, predicate: Any) -> Any:
    params = {"labelSelector": f"kubernetes.io/service-name={service}"}
    listing = await cluster.api.request("GET", SLICES, params=params)
    for item in listing["items"]:
        if predicate(item):
            return item
    watch = {**params, "resourceVersion": listing["metadata"]["resourceVersion"]}
    async for event in cluster.api.watch(SLICES, params=watch):
        if event.get("type") in ("ADDED", "MODIFIED") and predicate(event["object"]):
            return event["object"]
    raise AssertionError("the watch ended before the slice listed the pod")
