"""The API client over real HTTPS: errors, rate limit, metrics observers, helpers."""

from __future__ import annotations

import time

import pytest

from kubelet_core._apiclient import ApiError, KubeApi, TokenBucket, resource_of
from kubelet_core._apiclient.backoff import Backoff
from kubelet_core._observability import AgentMetrics


async def test_errors_carry_status_and_reason(api):
    with pytest.raises(ApiError) as caught:
        await api.get("/api/v1/namespaces/default/pods/nope")
    assert caught.value.status == 404
    assert caught.value.reason == "NotFound"
    assert caught.value.body.get("kind") == "Status"


async def test_unreachable_is_status_zero():
    client = KubeApi("https://127.0.0.1:9", qps=100, burst=10)
    try:
        with pytest.raises(ApiError) as caught:
            await client.get("/api/v1/nodes")
        assert caught.value.status == 0 and caught.value.retryable
    finally:
        await client.close()


async def test_requests_are_rate_limited_and_observed(cp):
    client = await KubeApi.from_kubeconfig(cp.kubeconfig_path, qps=20, burst=2)
    metrics = AgentMetrics()
    client.add_observer(metrics.observe_request)
    try:
        started = time.monotonic()
        for _ in range(6):
            await client.get("/api/v1/nodes")
        elapsed = time.monotonic() - started
    finally:
        await client.close()
    assert elapsed >= 0.18  # 2 free, then 4 at 20/s
    count = metrics.registry.get_sample_value(
        "wasmlet_api_requests_total", {"verb": "GET", "resource": "nodes", "code": "200"}
    )
    assert count == 6


def test_metrics_registries_are_per_agent():
    first, second = AgentMetrics(), AgentMetrics()
    first.set_pod_phase("a/b", "Running")
    assert first.registry.get_sample_value("wasmlet_pods", {"phase": "Running"}) == 1
    assert second.registry.get_sample_value("wasmlet_pods", {"phase": "Running"}) == 0
    first.set_pod_phase("a/b", "Succeeded")
    first.set_pod_phase("a/b", None)
    assert first.registry.get_sample_value("wasmlet_pods", {"phase": "Succeeded"}) == 0


def test_token_bucket_and_backoff():
    bucket = TokenBucket(1000, 3)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    backoff = Backoff(0.2, 7.0, jitter=0)
    assert [backoff.next() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 7.0]
    backoff.reset()
    assert backoff.next() == 0.2


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/api/v1/nodes", "nodes"),
        ("/api/v1/nodes/n1/status", "nodes/status"),
        ("/api/v1/namespaces/default/pods/p/status", "pods/status"),
        ("/api/v1/pods", "pods"),
        ("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "leases"),
        ("/api/v1/namespaces/default", "namespaces"),
    ],
)
def test_resource_of(path, resource):
    assert resource_of(path) == resource


async def test_expired_watch_yields_an_error_event(tmp_path):
    from kubelet_core._apiclient import watch_error
    from kubelet_core._controlplane import ControlPlane

    async with ControlPlane(tmp_path / "cp", watch_history=1, scheduler=False) as plane:
        client = await KubeApi.from_kubeconfig(plane.kubeconfig_path)
        try:
            path = "/api/v1/namespaces/default/configmaps"
            listing = await client.get(path)
            for index in range(3):
                await client.create(path, {"metadata": {"name": f"cm{index}"}, "data": {}})
            params = {"resourceVersion": listing["metadata"]["resourceVersion"]}
            events = [event async for event in client.watch(path, params=params)]
        finally:
            await client.close()
    assert events[0]["type"] == "ERROR"
    error = watch_error(events[0])
    assert error is not None and error.status == 410
