"""The API server goes away and comes back; history expires; the agent restarts."""

from __future__ import annotations

from kubelet_core._apiclient import KubeApi, lease_path, pod_path
from kubelet_core._controlplane import ControlPlane
from kubelet_core._provider import PodKey
from tests.node.conftest import condition, pod_manifest, running, wait_for, wait_gone

PODS = "/api/v1/namespaces/default/pods"


def phase_is(phase: str):
    return lambda pod: (pod.get("status") or {}).get("phase") == phase


async def test_api_server_restart_loses_no_status_and_no_pod(cp, api, node_config, provider):
    async with running(
        provider, node_config(heartbeat={"lease_renew_interval_seconds": 0.2})
    ) as agent:
        for name in ("r1", "r2"):
            await api.create(PODS, pod_manifest(name))
        await wait_for(api, PODS, "r1", phase_is("Running"))
        await wait_for(api, PODS, "r2", phase_is("Running"))
        port = cp.port
        await cp.stop()
        # While the API server is away: one pod finishes, the other flaps and settles.
        provider.succeed("default/r1")
        provider.succeed("default/r2", exit_code=1)
        provider.run("default/r2")
        restarted = ControlPlane(cp.data_dir, port=port)
        await restarted.start()
        try:
            client = await KubeApi.from_kubeconfig(restarted.kubeconfig_path)
            try:
                pod = await wait_for(client, PODS, "r1", phase_is("Succeeded"), timeout=30)
                assert condition(pod, "Ready")["reason"] == "PodCompleted"
                pod = await wait_for(client, PODS, "r2", phase_is("Running"), timeout=30)
                assert pod["status"]["containerStatuses"][0]["ready"] is True
                names = {p["metadata"]["name"] for p in (await client.get(PODS))["items"]}
                assert names == {"r1", "r2"}
                assert set(provider.pods) == {"default/r1", "default/r2"}
                # The heartbeat resumed as well.
                before = (await client.get(lease_path("node-a")))["spec"]["renewTime"]
                await wait_for(
                    client,
                    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                    "node-a",
                    lambda lease: lease["spec"]["renewTime"] > before,
                )
                # And new work is picked up through the re-established watch.
                await client.create(PODS, pod_manifest("r3"))
                await wait_for(client, PODS, "r3", phase_is("Running"), timeout=30)
                assert agent.metrics.watch_restarts.collect()[0].samples
            finally:
                await client.close()
        finally:
            await restarted.stop()
            await cp.start()  # the fixture stops it again


async def test_expired_watch_relists_and_synthesizes_deletions(cp, api, node_config, provider):
    """Changes made while the agent cannot see them (410 on resume) are found by a relist."""
    async with running(provider, node_config()) as agent:
        for name in ("keep", "vanish"):
            await api.create(PODS, pod_manifest(name))
        await wait_for(api, PODS, "vanish", phase_is("Running"))
        port = cp.port
        await cp.stop()
        # The same cluster comes up on another port, where the agent cannot see it...
        elsewhere = ControlPlane(cp.data_dir, port=0, kubeconfig_path=cp.data_dir / "other")
        await elsewhere.start()
        try:
            client = await KubeApi.from_kubeconfig(elsewhere.kubeconfig_path)
            try:
                await client.delete(pod_path("default", "vanish"), grace_period_seconds=0)
                await client.create(PODS, pod_manifest("newcomer"))
            finally:
                await client.close()
        finally:
            await elsewhere.stop()
        relists = agent.watcher.relists
        # ...then back where the agent looks, with a history that no longer reaches back.
        back = ControlPlane(cp.data_dir, port=port, watch_history=1)
        await back.start()
        try:
            client = await KubeApi.from_kubeconfig(back.kubeconfig_path)
            try:
                await provider.wait_for(lambda: "default/vanish" not in provider.pods, timeout=30)
                await wait_for(client, PODS, "newcomer", phase_is("Running"), timeout=30)
                assert "default/keep" in provider.pods
                assert agent.watcher.relists > relists
            finally:
                await client.close()
        finally:
            await back.stop()
            await cp.start()


async def test_dangling_provider_pods_are_deleted_at_start(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("stay"))
        await wait_for(api, PODS, "stay", phase_is("Running"))
    # The provider survives the agent (a persistent runtime): it still holds "stay",
    # and holds "ghost", which the API never had.
    provider.pods["default/stay"] = await api.get(pod_path("default", "stay"))
    ghost = pod_manifest("ghost")
    ghost["metadata"]["uid"] = "0000-ghost"
    provider.pods["default/ghost"] = ghost
    assert PodKey("default", "ghost", "0000-ghost") in await provider.list_pods()
    provider.calls.clear()
    async with running(provider, node_config()) as agent:
        assert ("delete", "default/ghost", 0.0) in provider.calls
        await agent.syncer.workers.idle(5)
        assert provider.calls_of("create") == []  # "stay" was adopted, not created again
        assert "default/stay" in provider.pods


async def test_drain_on_shutdown_evicts_pods(api, node_config, provider):
    async with running(provider, node_config(shutdown={"drain": True})) as agent:
        await api.create(PODS, pod_manifest("d1"))
        await api.create(PODS, pod_manifest("d2"))
        await wait_for(api, PODS, "d2", phase_is("Running"))
        await wait_for(api, PODS, "d1", phase_is("Running"))
        await agent.stop()
    await wait_gone(api, pod_path("default", "d1"), timeout=1)
    await wait_gone(api, pod_path("default", "d2"), timeout=1)
    assert {call[1] for call in provider.calls_of("delete")} == {"default/d1", "default/d2"}
    assert ("delete", "default/d1", 3.0) in provider.calls  # the pod's own grace period
    evictions = agent.metrics.registry.get_sample_value(
        "wasmlet_api_requests_total", {"verb": "POST", "resource": "pods/eviction", "code": "201"}
    )
    assert evictions == 2


async def test_stop_without_drain_leaves_pods(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("stays"))
        await wait_for(api, PODS, "stays", phase_is("Running"))
    pod = await api.get(pod_path("default", "stays"))
    assert "deletionTimestamp" not in pod["metadata"]
    assert provider.calls_of("delete") == []


async def test_stop_is_bounded_when_the_api_server_is_gone(cp, node_config, provider):
    import time

    async with running(
        provider, node_config(shutdown={"grace_period_seconds": 2.0, "drain": True})
    ) as agent:
        await cp.stop()
        started = time.monotonic()
        await agent.stop()
        assert time.monotonic() - started < 4.0
    await cp.start()


async def test_start_waits_for_an_unreachable_api_server_and_stop_ends_it(tmp_path, provider):
    """No API server yet: start() keeps retrying registration; stop() ends it promptly."""
    import asyncio
    import time

    from kubelet_core._agent import NodeAgent
    from kubelet_core._config import IdentityConfig, NodeConfig, ShutdownConfig, StorageConfig

    client = KubeApi("https://127.0.0.1:9")
    config = NodeConfig(
        identity=IdentityConfig(name="lonely"),
        storage=StorageConfig(data_dir=tmp_path),
        shutdown=ShutdownConfig(grace_period_seconds=1.0),
    )
    agent = NodeAgent(provider, config, api=client)
    runner = asyncio.create_task(agent.run())
    done, _ = await asyncio.wait([runner], timeout=0.5)
    assert not done  # still trying to register
    started = time.monotonic()
    await agent.stop()
    await asyncio.wait_for(runner, 2)
    assert time.monotonic() - started < 2.0
    assert provider.context is None  # the provider was never started
    await client.close()
