"""Image pulls: events, ErrImagePull -> ImagePullBackOff, recovery, pull policy and secrets."""

from __future__ import annotations

import pytest

from kubelet_core._containers.images import pull_policy
from tests.containers.conftest import Recorder, container, ctr, make_pod, state_reason
from tests.containers.pyruntime import PyRuntimeProvider


@pytest.mark.parametrize(
    ("image", "explicit", "expected"),
    [
        ("hello", None, "Always"),
        ("hello:latest", None, "Always"),
        ("127.0.0.1:5000/hello", None, "Always"),
        ("127.0.0.1:5000/hello:v1", None, "IfNotPresent"),
        ("hello@sha256:abc", None, "IfNotPresent"),
        ("hello:latest", "Never", "Never"),
        ("hello:v1", "Always", "Always"),
    ],
)
def test_pull_policy_defaults(image: str, explicit: str | None, expected: str) -> None:
    spec = {"name": "c", "image": image}
    if explicit:
        spec["imagePullPolicy"] = explicit
    assert pull_policy(spec) == expected


async def test_pull_events_policy_and_secrets(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "pull",
        [ctr("a", "exit", "0", image="pyrt/a"), ctr("b", "exit", "0", image="pyrt/b:v2")],
        restart_policy="Never",
        imagePullSecrets=[{"name": "regcred"}],
    )
    await provider.create_pod(pod)
    await recorder.phase("pull", "Succeeded")
    assert sorted(provider.pulls) == [
        ("pyrt/a", "Always", ["regcred"]),
        ("pyrt/b:v2", "IfNotPresent", ["regcred"]),
    ]
    pulled = await recorder.event("Pulled", 'image "pyrt/a"')
    assert pulled.message.startswith('Successfully pulled image "pyrt/a" in ')
    assert any(e.message == 'Pulling image "pyrt/b:v2"' for e in recorder.events)


async def test_pull_failure_backs_off_then_recovers(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("flaky", [ctr("main", "gate", "never", image="flaky2/app:v1")])
    await provider.create_pod(pod)
    err = await recorder.status("flaky", lambda s: state_reason(s, "main") == "ErrImagePull")
    assert err["phase"] == "Pending"
    assert container(err, "main")["state"]["waiting"]["message"] == "connection refused (1)"
    await recorder.event("Failed", 'Failed to pull image "flaky2/app:v1": connection refused (1)')
    await recorder.event("Failed", "Error: ErrImagePull")
    back = await recorder.status("flaky", lambda s: state_reason(s, "main") == "ImagePullBackOff")
    assert container(back, "main")["state"]["waiting"]["message"] == (
        'Back-off pulling image "flaky2/app:v1": ErrImagePull: connection refused (1)'
    )
    backoff = await recorder.event("BackOff", 'Back-off pulling image "flaky2/app:v1"')
    assert backoff.type == "Normal"
    await recorder.event("Failed", "Error: ImagePullBackOff")
    await recorder.status("flaky", lambda s: state_reason(s, "main") == "ErrImagePull")
    running = await recorder.phase("flaky", "Running")
    assert container(running, "main")["restartCount"] == 0
    assert len(provider.pulls) == 3


async def test_missing_image_keeps_retrying(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("missing", [ctr("main", "exit", "0", image="missing/app:v1")])
    await provider.create_pod(pod)
    for _ in range(3):
        await recorder.status("missing", lambda s: state_reason(s, "main") == "ImagePullBackOff")
        await recorder.status("missing", lambda s: state_reason(s, "main") == "ErrImagePull")
    assert all(s["phase"] == "Pending" for s in recorder.statuses["missing"])
    assert provider.launches == []


async def test_unexpected_pull_exception_is_an_image_pull_error(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod("explode", [ctr("main", "exit", "0", image="explode/app")])
    await provider.create_pod(pod)
    status = await recorder.status("explode", lambda s: state_reason(s, "main") == "ErrImagePull")
    waiting = container(status, "main")["state"]["waiting"]
    assert waiting["message"] == "RuntimeError: registry client blew up"


async def test_invalid_image_waits_for_a_pod_update(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "invalid", [ctr("main", "exit", "0", image="invalid/app")], restart_policy="Never"
    )
    await provider.create_pod(pod)
    status = await recorder.status(
        "invalid", lambda s: state_reason(s, "main") == "InvalidImageName"
    )
    assert (
        container(status, "main")["state"]["waiting"]["message"] == "invalid reference invalid/app"
    )
    fixed = {**pod, "spec": {**pod["spec"], "containers": [ctr("main", "exit", "0")]}}
    await provider.update_pod(fixed)
    done = await recorder.phase("invalid", "Succeeded")
    assert container(done, "main")["image"] == "pyrt/app:v1"
    assert [p[0] for p in provider.pulls] == ["invalid/app", "pyrt/app:v1"]
    assert not any(e.reason == "BackOff" for e in recorder.events)
