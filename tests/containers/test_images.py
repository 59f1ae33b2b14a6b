"""Image pulls: events, ErrImagePull -> ImagePullBackOff, recovery, pull policy and secrets."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from kubelet_core._containers.images import pull_policy
from kubelet_core.containers import RegistryCredentials
from kubelet_core.testing import ClusterHarness
from tests.containers.conftest import (
    FAST,
    Recorder,
    container,
    ctr,
    make_context,
    make_pod,
    state_reason,
)
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
    cluster: ClusterHarness, tmp_path: Path, recorder: Recorder
) -> None:
    """The core reads imagePullSecrets and hands the runtime the registry's login only."""
    auth = base64.b64encode(b"puller:s3cret").decode()
    config = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    await cluster.api.create(
        "/api/v1/namespaces/default/secrets",
        {
            "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        },
    )
    context = dataclasses.replace(make_context(tmp_path, recorder), api=cluster.api)
    provider = PyRuntimeProvider(timings=FAST)
    await provider.start(context)
    try:
        pod = make_pod(
            "pull",
            [ctr("a", "exit", "0", image="pyrt/a"), ctr("b", "exit", "0", image="pyrt/b:v2")],
            restart_policy="Never",
            imagePullSecrets=[{"name": "regcred"}],
        )
        await provider.create_pod(pod)
        await recorder.phase("pull", "Succeeded")
        login = RegistryCredentials("puller", "s3cret")
        assert sorted(provider.pulls) == [
            ("pyrt/a", "Always", login),
            ("pyrt/b:v2", "IfNotPresent", login),
        ]
        pulled = await recorder.event("Pulled", 'image "pyrt/a"')
        assert pulled.message.startswith('Successfully pulled image "pyrt/a" in ')
        assert any(e.message == 'Pulling image "pyrt/b:v2"' for e in recorder.events)
        assert "FailedToRetrieveImagePullSecret" not in recorder.reasons("pull")
        # The pod's secret is watched (kubelet's secret manager), until the pod is gone.
        assert ("secrets", "default", "regcred") in provider.volume_host.objects.watched
        await provider.delete_pod(pod, 0)
        assert not provider.volume_host.objects.watched
    finally:
        await provider.shutdown()


async def test_missing_pull_secret_warns_and_pulls_anonymously(
    cluster: ClusterHarness, tmp_path: Path, recorder: Recorder
) -> None:
    context = dataclasses.replace(make_context(tmp_path, recorder), api=cluster.api)
    provider = PyRuntimeProvider(timings=FAST)
    await provider.start(context)
    try:
        pod = make_pod(
            "anon",
            [ctr("a", "exit", "0", image="127.0.0.1:5000/app:v1")],
            restart_policy="Never",
            imagePullSecrets=[{"name": "absent"}, {"name": "gone"}],
        )
        await provider.create_pod(pod)
        await recorder.phase("anon", "Succeeded")
        assert provider.pulls == [("127.0.0.1:5000/app:v1", "IfNotPresent", None)]
        warning = await recorder.event("FailedToRetrieveImagePullSecret", "absent")
        assert warning.type == "Warning"
        assert warning.message == (
            "Unable to retrieve some image pull secrets (absent, gone); "
            "attempting to pull the image may not succeed."
        )
    finally:
        await provider.shutdown()


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
