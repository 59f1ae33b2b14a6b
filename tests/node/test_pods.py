"""Pods: create, status, update, deletion (graceful and forced), provider errors."""

from __future__ import annotations

import copy

from kubelet_core._apiclient import pod_path
from tests.node.conftest import condition, pod_manifest, running, wait_for, wait_gone
from tests.node.scripted import FAIL

PODS = "/api/v1/namespaces/default/pods"


def phase_is(phase: str):
    return lambda pod: (pod.get("status") or {}).get("phase") == phase


async def test_pod_runs_and_status_is_merged(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        created = await api.create(PODS, pod_manifest("web", containers=2))
        await provider.wait_for(lambda: "default/web" in provider.pods)
        pod = await wait_for(
            api, PODS, "web", lambda p: phase_is("Running")(p) and condition(p, "Ready") is not None
        )
        status = pod["status"]
        assert status["hostIP"] == "127.0.0.1"
        assert status["hostIPs"] == [{"ip": "127.0.0.1"}]
        assert status["podIP"] == "127.0.0.1"
        assert status["podIPs"] == [{"ip": "127.0.0.1"}]
        assert status["startTime"]
        assert status["qosClass"] == "BestEffort"
        assert [c["name"] for c in status["containerStatuses"]] == ["c0", "c1"]
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            assert condition(pod, kind)["status"] == "True", kind
        assert pod["metadata"]["uid"] == created["metadata"]["uid"]
        assert await agent.statuses.flush(5)
        registry = agent.metrics.registry
        assert registry.get_sample_value("wasmlet_pod_start_duration_seconds_count") == 1
        assert registry.get_sample_value("wasmlet_pods", {"phase": "Running"}) == 1
        assert (
            registry.get_sample_value(
                "wasmlet_api_requests_total",
                {"verb": "PUT", "resource": "pods/status", "code": "200"},
            )
            >= 1
        )


async def test_scheduled_pod_keeps_the_schedulers_condition(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("sched", node=None))
        bound = await wait_for(api, PODS, "sched", lambda p: p["spec"].get("nodeName"))
        assert bound["spec"]["nodeName"] == "node-a"
        scheduled = condition(bound, "PodScheduled")
        pod = await wait_for(api, PODS, "sched", phase_is("Running"))
        assert condition(pod, "PodScheduled") == scheduled
        assert scheduled["status"] == "True"


async def test_succeeded_pod_is_not_ready_and_not_restarted(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("job"))
        await wait_for(api, PODS, "job", phase_is("Running"))
        provider.succeed("default/job")
        pod = await wait_for(api, PODS, "job", phase_is("Succeeded"))
        ready = condition(pod, "Ready")
        assert ready["status"] == "False" and ready["reason"] == "PodCompleted"
        assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
        # A late non-terminal status never moves a finished pod back.
        provider.run("default/job")
    # A new agent (a restart) does not run the finished pod again.
    fresh = type(provider)()
    async with running(fresh, node_config()) as agent:
        await agent.syncer.workers.idle(5)
        assert fresh.calls_of("create") == []
    pod = await api.get(pod_path("default", "job"))
    assert pod["status"]["phase"] == "Succeeded"


async def test_identical_statuses_are_not_rewritten(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        await api.create(PODS, pod_manifest("calm"))
        await wait_for(api, PODS, "calm", phase_is("Running"))
        assert await agent.statuses.flush(5)
        writes = agent.statuses.writes
        version = (await api.get(pod_path("default", "calm")))["metadata"]["resourceVersion"]
        for _ in range(5):
            provider.set_status("default/calm", provider.statuses["default/calm"])
        assert await agent.statuses.flush(5)
        assert agent.statuses.writes == writes
        pod = await api.get(pod_path("default", "calm"))
        assert pod["metadata"]["resourceVersion"] == version


async def test_update_reaches_provider(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("upd"))
        await wait_for(api, PODS, "upd", phase_is("Running"))
        await api.patch(pod_path("default", "upd"), {"metadata": {"labels": {"v": "2"}}})
        await provider.wait_for(
            lambda: any(call[2] == {"v": "2"} for call in provider.calls_of("update"))
        )
        # A status-only change (our own write) is not an update.
        assert len(provider.calls_of("update")) == 1


async def test_graceful_deletion(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("bye"))
        await wait_for(api, PODS, "bye", phase_is("Running"))
        await api.delete(pod_path("default", "bye"), grace_period_seconds=2)
        await wait_gone(api, pod_path("default", "bye"))
        assert ("delete", "default/bye", 2.0) in provider.calls
        assert "default/bye" not in provider.pods


async def test_deletion_uses_termination_grace_period(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("tgp"))
        await wait_for(api, PODS, "tgp", phase_is("Running"))
        await api.delete(pod_path("default", "tgp"))  # the pod's own 3 s
        await wait_gone(api, pod_path("default", "tgp"))
        assert ("delete", "default/tgp", 3.0) in provider.calls


async def test_forced_deletion(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        await api.create(PODS, pod_manifest("force"))
        await wait_for(api, PODS, "force", phase_is("Running"))
        await api.delete(pod_path("default", "force"), grace_period_seconds=0)
        await provider.wait_for(lambda: "default/force" not in provider.pods)
        assert provider.calls_of("delete")[0][:2] == ("delete", "default/force")
        await agent.syncer.workers.idle(5)
        assert "default/force" not in agent.syncer.tracked


async def test_recreated_namesake_is_a_new_pod(api, node_config, provider):
    async with running(provider, node_config()):
        first = await api.create(PODS, pod_manifest("same"))
        await wait_for(api, PODS, "same", phase_is("Running"))
        await api.delete(pod_path("default", "same"), grace_period_seconds=0)
        second = await api.create(PODS, pod_manifest("same"))
        await wait_for(
            api,
            PODS,
            "same",
            lambda p: p["metadata"]["uid"] == second["metadata"]["uid"] and phase_is("Running")(p),
        )
        uids = [call[2] for call in provider.calls_of("create")]
        assert uids == [first["metadata"]["uid"], second["metadata"]["uid"]]
        assert provider.pods["default/same"]["metadata"]["uid"] == second["metadata"]["uid"]


async def test_invalid_pod_spec_fails_the_pod_with_an_event(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        await api.create(PODS, pod_manifest("bad", annotations={FAIL: "invalid"}))
        pod = await wait_for(api, PODS, "bad", phase_is("Failed"))
        assert pod["status"]["reason"] == "InvalidPodSpec"
        assert "cannot run" in pod["status"]["message"]
        await agent.events.flush(5)
        events = await api.get(
            "/api/v1/namespaces/default/events", params={"fieldSelector": "involvedObject.name=bad"}
        )
        (event,) = events["items"]
        assert event["type"] == "Warning" and event["reason"] == "InvalidPodSpec"
        assert event["source"] == {"component": "wasmlet", "host": "node-a"}
        assert event["involvedObject"]["uid"] == pod["metadata"]["uid"]
        # The agent goes on: the next pod runs.
        await api.create(PODS, pod_manifest("good"))
        await wait_for(api, PODS, "good", phase_is("Running"))
        assert len(provider.calls_of("create")) == 2  # the failed pod is not retried


async def test_transient_provider_error_retries_until_running(api, node_config, provider):
    async with running(provider, node_config()):
        await api.create(PODS, pod_manifest("flaky", annotations={FAIL: "transient-1"}))
        await wait_for(api, PODS, "flaky", lambda p: p["status"].get("reason") == "RuntimeBusy")
        pod = await wait_for(api, PODS, "flaky", phase_is("Running"))
        assert "reason" not in pod["status"]
        assert provider.attempts["default/flaky"] == 2


async def test_provider_crash_and_malformed_pods_do_not_stop_the_agent(api, node_config, provider):
    async with running(provider, node_config()) as agent:
        await api.create(PODS, pod_manifest("boom", annotations={FAIL: "crash"}))
        await wait_for(api, PODS, "boom", lambda p: p["status"].get("reason") == "ProviderFailed")
        # A pod no provider can be handed (image is not a string).  kube-apiserver, like
        # the embedded one, refuses to store it; an API server that does not (or a
        # watch stream that garbles it) delivers it anyway, here straight off the wire.
        stored = await api.create(PODS, pod_manifest("odd", node="elsewhere"))
        odd = copy.deepcopy(stored)
        odd["spec"]["nodeName"] = "node-a"
        odd["spec"]["containers"][0]["image"] = 123
        agent.watcher.reflector.handle({"type": "ADDED", "object": odd})
        # (Its status write carries the garbled spec, so the API refuses it: the Event says.)
        # Garbage straight off the wire (no uid, no spec) is shrugged off too.
        agent.watcher.reflector.handle(
            {
                "type": "ADDED",
                "object": {
                    "metadata": {"name": "ghost", "namespace": "default"},
                    "spec": {"nodeName": "node-a"},
                },
            }
        )
        agent.watcher.reflector.handle({"type": "MODIFIED", "object": "not an object"})
        await api.create(PODS, pod_manifest("fine"))
        await wait_for(api, PODS, "fine", phase_is("Running"))
        await agent.events.flush(5)
        events = await api.get(
            "/api/v1/namespaces/default/events", params={"fieldSelector": "involvedObject.name=odd"}
        )
        assert [e["reason"] for e in events["items"]] == ["MalformedPod"]
        assert "image is not a string" in events["items"][0]["message"]
        assert "default/odd" not in [call[1] for call in provider.calls]
