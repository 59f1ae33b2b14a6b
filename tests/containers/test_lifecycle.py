"""Container states, restart policies, init containers and pod phases, as kubelet reports them."""

from __future__ import annotations

from tests.containers.conftest import (
    Recorder,
    container,
    ctr,
    make_pod,
    read_log,
    state_reason,
)
from tests.containers.pyruntime import PyRuntimeProvider


async def test_exit_codes_and_reasons(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "codes",
        [
            ctr("ok", "print", "hi", ";", "exit", "0"),
            ctr("bad", "exit", "3"),
            ctr("oom", "oom"),
        ],
        restart_policy="Never",
    )
    uid = pod["metadata"]["uid"]
    await provider.create_pod(pod)
    status = await recorder.phase("codes", "Failed")

    ok = container(status, "ok")
    terminated = ok["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert terminated["containerID"] == f"pyrt://{uid}/ok/0" == ok["containerID"]
    assert terminated["startedAt"].endswith("Z") and terminated["finishedAt"].endswith("Z")
    assert ok["restartCount"] == 0 and ok["lastState"] == {}
    assert ok["ready"] is False and ok["started"] is False
    assert ok["image"] == "pyrt/app:v1" and ok["imageID"].startswith("sha256:")

    bad = container(status, "bad")["state"]["terminated"]
    assert (bad["exitCode"], bad["reason"]) == (3, "Error")
    oom = container(status, "oom")["state"]["terminated"]
    assert (oom["exitCode"], oom["reason"], oom["message"]) == (
        137,
        "OOMKilled",
        "memory limit exceeded",
    )
    for name in ("ok", "bad", "oom"):
        assert f"Started container {name}" in [e.message for e in recorder.events]


async def test_phases_pending_running_succeeded(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("phases", [ctr("main", "gate", "go")], restart_policy="Never")
    await provider.create_pod(pod)
    first = await recorder.phase("phases", "Pending")
    assert container(first, "main")["state"] == {"waiting": {"reason": "ContainerCreating"}}
    running = await recorder.phase("phases", "Running")
    main = container(running, "main")
    assert main["ready"] is True and main["started"] is True
    assert "startedAt" in main["state"]["running"]
    assert await provider.get_pod_status(pod) == running
    provider.gate("go").set()
    done = await recorder.phase("phases", "Succeeded")
    assert state_reason(done, "main") == "Completed"
    assert [k.name for k in await provider.list_pods()] == ["phases"]


async def test_on_failure_restarts_failures_until_success(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "onfail",
        [ctr("main", "exit-until", "2", "7", ";", "exit", "0")],
        restart_policy="OnFailure",
    )
    await provider.create_pod(pod)
    backoff = await recorder.status(
        "onfail", lambda s: state_reason(s, "main") == "CrashLoopBackOff"
    )
    assert backoff["phase"] == "Running"  # restarting counts as running, as in kubelet
    main = container(backoff, "main")
    assert main["lastState"]["terminated"]["exitCode"] == 7
    assert main["state"]["waiting"]["message"].startswith("back-off 50ms restarting failed")
    done = await recorder.phase("onfail", "Succeeded")
    main = container(done, "main")
    assert main["restartCount"] == 2
    assert main["lastState"]["terminated"]["exitCode"] == 7
    assert main["containerID"].endswith("/main/2")
    assert main["lastState"]["terminated"]["containerID"].endswith("/main/1")
    backoffs = [e for e in recorder.events if e.reason == "BackOff"]
    assert len(backoffs) == 2
    assert backoffs[0].type == "Warning"
    assert backoffs[0].message.startswith("Back-off restarting failed container main in pod onfail")


async def test_on_failure_does_not_restart_success(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("once", [ctr("main", "exit", "0")], restart_policy="OnFailure")
    await provider.create_pod(pod)
    done = await recorder.phase("once", "Succeeded")
    assert container(done, "main")["restartCount"] == 0
    assert len(provider.launches) == 1


async def test_always_restarts_even_after_success(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("always", [ctr("main", "exit", "0")], restart_policy="Always")
    await provider.create_pod(pod)
    status = await recorder.status("always", lambda s: container(s, "main")["restartCount"] >= 3)
    assert status["phase"] == "Running"
    crash = await recorder.status("always", lambda s: state_reason(s, "main") == "CrashLoopBackOff")
    assert crash["phase"] == "Running"
    assert container(crash, "main")["lastState"]["terminated"]["reason"] == "Completed"
    assert all(s["phase"] != "Succeeded" for s in recorder.statuses["always"])


async def test_never_reports_failure(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    pod = make_pod("never", [ctr("main", "exit", "1")], restart_policy="Never")
    await provider.create_pod(pod)
    status = await recorder.phase("never", "Failed")
    assert container(status, "main")["restartCount"] == 0
    assert "BackOff" not in recorder.reasons("never")


async def test_init_containers_run_in_order_before_apps(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "init",
        [ctr("app", "print", "app"), ctr("side", "print", "side")],
        init=[ctr("first", "gate", "first"), ctr("second", "exit", "0")],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    initializing = await recorder.status(
        "init", lambda s: state_reason(s, "first", init=True) == "Running"
    )
    assert initializing["phase"] == "Pending"
    assert state_reason(initializing, "second", init=True) == "PodInitializing"
    assert state_reason(initializing, "app") == "PodInitializing"
    assert [launch.name for launch in provider.launches] == ["first"]
    provider.gate("first").set()
    done = await recorder.phase("init", "Succeeded")
    assert [launch.name for launch in provider.launches][:2] == ["first", "second"]
    assert sorted(launch.name for launch in provider.launches[2:]) == ["app", "side"]
    first = container(done, "first", init=True)
    assert first["ready"] is True and first["state"]["terminated"]["reason"] == "Completed"


async def test_failed_init_container_fails_pod_with_never(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "initfail",
        [ctr("app", "print", "app")],
        init=[ctr("setup", "exit", "2"), ctr("later", "exit", "0")],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.phase("initfail", "Failed")
    assert container(status, "setup", init=True)["state"]["terminated"]["exitCode"] == 2
    assert state_reason(status, "later", init=True) == "PodInitializing"
    assert state_reason(status, "app") == "PodInitializing"
    assert [launch.name for launch in provider.launches] == ["setup"]


async def test_failed_init_container_crash_loops_then_recovers(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "initloop",
        [ctr("app", "gate", "app")],
        init=[ctr("setup", "exit-until", "2", "1")],
        restart_policy="Always",
    )
    await provider.create_pod(pod)
    looping = await recorder.status(
        "initloop", lambda s: state_reason(s, "setup", init=True) == "CrashLoopBackOff"
    )
    assert looping["phase"] == "Pending"  # kubectl shows Init:CrashLoopBackOff
    assert state_reason(looping, "app") == "PodInitializing"
    running = await recorder.phase("initloop", "Running")
    setup = container(running, "setup", init=True)
    assert setup["restartCount"] == 2
    assert setup["lastState"]["terminated"]["exitCode"] == 1
    assert state_reason(running, "app") == "Running"


async def test_start_errors_become_terminated_states(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "starterr",
        [
            ctr("typed", "fail-start"),
            ctr("custom", "fail-start", "BadModule"),
            ctr("crashed", "crash-start"),
        ],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    status = await recorder.phase("starterr", "Failed")
    typed = container(status, "typed")["state"]["terminated"]
    assert (typed["exitCode"], typed["reason"]) == (128, "StartError")
    assert typed["message"] == "cannot start typed: bad module"
    custom = container(status, "custom")["state"]["terminated"]
    assert custom["reason"] == "BadModule"
    crashed = container(status, "crashed")["state"]["terminated"]
    assert (crashed["reason"], crashed["message"]) == (
        "StartError",
        "RuntimeError: runtime crashed",
    )
    failed = [e.message for e in recorder.events if e.reason == "Failed"]
    assert "Error: cannot start typed: bad module" in failed


async def test_start_error_is_retried_by_restart_policy(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("retry", [ctr("main", "fail-start")], restart_policy="Always")
    await provider.create_pod(pod)
    status = await recorder.status("retry", lambda s: container(s, "main")["restartCount"] >= 2)
    assert status["phase"] == "Running"
    looping = await recorder.status(
        "retry", lambda s: state_reason(s, "main") == "CrashLoopBackOff"
    )
    assert container(looping, "main")["lastState"]["terminated"]["reason"] == "StartError"


async def test_invalid_pod_spec_fails_the_pod(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "invalid", [ctr("main", "invalid-spec"), ctr("other", "forever")], restart_policy="Always"
    )
    await provider.create_pod(pod)
    status = await recorder.status("invalid", lambda s: s.get("reason") == "UnsupportedPod")
    assert status["phase"] == "Failed"
    assert status["message"] == "this runtime cannot run that pod"
    await recorder.status("invalid", lambda s: state_reason(s, "other") == "Error")
    assert (await recorder.event("UnsupportedPod")).type == "Warning"


async def test_logs_of_each_container(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "two", [ctr("a", "print", "from a"), ctr("b", "print", "from b")], restart_policy="Never"
    )
    await provider.create_pod(pod)
    await recorder.phase("two", "Succeeded")
    assert await read_log(provider, "two", "a") == b"from a\n"
    assert await read_log(provider, "two", "b") == b"from b\n"


async def test_sidecar_init_containers_run_beside_the_app(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "sidecar",
        [ctr("app", "gate", "app")],
        init=[
            ctr("proxy", "exit-until", "1", "1", ";", "forever", restartPolicy="Always"),
            ctr("setup", "exit", "0"),
        ],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    running = await recorder.status(
        "sidecar",
        lambda s: (
            state_reason(s, "app") == "Running" and state_reason(s, "proxy", init=True) == "Running"
        ),
    )
    assert running["phase"] == "Running"
    proxy = container(running, "proxy", init=True)
    assert proxy["ready"] is True and proxy["started"] is True
    assert proxy["restartCount"] == 1  # the sidecar restarts even though the pod says Never
    # The sidecar must have started before "setup" runs; its restart runs beside the others.
    names = [launch.name for launch in provider.launches]
    assert names[0] == "proxy" and names.index("setup") < names.index("app")
    assert sorted(names) == ["app", "proxy", "proxy", "setup"]
    provider.gate("app").set()
    done = await recorder.status(
        "sidecar", lambda s: state_reason(s, "proxy", init=True) == "Error"
    )
    assert done["phase"] == "Succeeded"
    assert container(done, "proxy", init=True)["state"]["terminated"]["exitCode"] == 143
    await recorder.event("Killing", "Stopping container proxy")
    assert len(provider.launches) == 4


async def test_image_update_restarts_the_container(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("upd", [ctr("main", "forever"), ctr("other", "forever")])
    await provider.create_pod(pod)
    await recorder.status("upd", lambda s: all(c["ready"] for c in s["containerStatuses"]))
    spec = {
        **pod["spec"],
        "containers": [ctr("main", "forever", image="pyrt/app:v2"), ctr("other", "forever")],
    }
    await provider.update_pod({**pod, "spec": spec})
    killing = await recorder.event("Killing", pod="upd")
    assert killing.message == "Container main definition changed, will be restarted"
    status = await recorder.status(
        "upd",
        lambda s: (
            container(s, "main")["restartCount"] == 1
            and s["phase"] == "Running"
            and state_reason(s, "main") == "Running"
        ),
    )
    main = container(status, "main")
    assert main["image"] == "pyrt/app:v2"
    assert main["lastState"]["terminated"]["exitCode"] == 143
    assert container(status, "other")["restartCount"] == 0
    assert provider.launches[-1].image.reference == "pyrt/app:v2"
    assert "BackOff" not in recorder.reasons("upd")


async def test_create_container_error_waits_and_retries(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "create", [ctr("main", "create-error-until", "2", ";", "exit", "0")], restart_policy="Never"
    )
    await provider.create_pod(pod)
    status = await recorder.status(
        "create", lambda s: state_reason(s, "main") == "CreateContainerError"
    )
    assert status["phase"] == "Pending"
    assert container(status, "main")["state"]["waiting"]["message"] == "no such entry point"
    assert "containerID" not in container(status, "main")
    await recorder.event("Failed", "Error: no such entry point")
    done = await recorder.phase("create", "Succeeded")
    assert container(done, "main")["restartCount"] == 0  # never created: no restart counted
    assert container(done, "main")["lastState"] == {}
    assert len(provider.launches) == 3
