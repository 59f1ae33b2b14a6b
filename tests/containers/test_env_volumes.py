"""Environment ($(VAR) expansion, fieldRef, config errors) and volumes (emptyDir, subPath)."""

from __future__ import annotations

import pytest

from kubelet_core._containers.env import expand
from kubelet_core._provider.base import ProviderContext
from tests.containers.conftest import (
    Recorder,
    container,
    ctr,
    make_pod,
    read_log,
    state_reason,
)
from tests.containers.pyruntime import PyRuntimeProvider

VARS = {"A": "a", "EMPTY": "", "NESTED": "$(A)"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$(A)", "a"),
        ("x$(A)y$(A)", "xaya"),
        ("$(EMPTY)|", "|"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("$$", "$"),
        ("$A", "$A"),
        ("cost: 5$", "cost: 5$"),
        ("$(A", "$(A"),
        ("$(A$$", "$(A$"),
        ("$()", "$()"),
        ("$(NESTED)", "$(A)"),  # values are not expanded twice
    ],
)
def test_expand_follows_kubernetes_rules(text: str, expected: str) -> None:
    assert expand(text, VARS.get) == expected


async def test_env_and_argv_expansion(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "TARGET", "value": "$(GREETING) world"},
        {"name": "LATER_REF", "value": "$(DEFINED_LATER)"},
        {"name": "ESCAPED", "value": "$$(GREETING)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "DEFINED_LATER", "value": "late"},
    ]
    pod = make_pod(
        "env",
        [
            ctr(
                "main",
                "env",
                ";",
                "argv",
                ";",
                "print",
                "$(TARGET)",
                "$$(TARGET)",
                "$(NOPE)",
                env=env,
                command=["$(POD)"],
            )
        ],
        restart_policy="Never",
    )
    pod["metadata"]["labels"] = {"app": "demo"}
    await provider.create_pod(pod)
    await recorder.phase("env", "Succeeded")
    launch = provider.launches[0]
    assert launch.env == [
        ("GREETING", "hello"),
        ("TARGET", "hello world"),
        ("LATER_REF", "$(DEFINED_LATER)"),
        ("ESCAPED", "$(GREETING)"),
        ("POD", "env"),
        ("APP", "demo"),
        ("NODE", "node-1"),
        ("DEFINED_LATER", "late"),
    ]
    assert list(launch.command) == ["env"]  # "$(POD)"
    assert list(launch.args)[-3:] == ["hello world", "$(TARGET)", "$(NOPE)"]
    log = (await read_log(provider, "env", "main")).decode().splitlines()
    assert log[1] == "TARGET=hello world"
    assert log[-2:] == [
        "env env ; argv ; print hello world $(TARGET) $(NOPE)",
        "hello world $(TARGET) $(NOPE)",
    ]


async def test_unresolvable_value_from_is_a_config_error(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    env = [{"name": "PASSWORD", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]
    pod = make_pod("secret", [ctr("main", "exit", "0", env=env)])
    await provider.create_pod(pod)
    status = await recorder.status(
        "secret", lambda s: state_reason(s, "main") == "CreateContainerConfigError"
    )
    assert status["phase"] == "Pending"
    message = container(status, "main")["state"]["waiting"]["message"]
    assert message == (
        "couldn't resolve env var 'PASSWORD' of container 'main': unsupported fieldPath: spec.bogus"
    )
    failed = await recorder.event("Failed", pod="secret")
    assert (failed.type, failed.message) == ("Warning", f"Error: {message}")
    await recorder.event("Failed", "Error: couldn't resolve", pod="secret")  # retried
    assert provider.launches == []


async def test_env_from_is_a_config_error(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    pod = make_pod("envfrom", [ctr("main", "exit", "0", envFrom=[{"configMapRef": {"name": "c"}}])])
    await provider.create_pod(pod)
    status = await recorder.status(
        "envfrom", lambda s: state_reason(s, "main") == "CreateContainerConfigError"
    )
    assert "the node has no API client" in container(status, "main")["state"]["waiting"]["message"]


async def test_empty_dir_is_shared_and_sub_path_honoured(
    provider: PyRuntimeProvider, recorder: Recorder, context: ProviderContext
) -> None:
    mount = {"name": "work", "mountPath": "/work"}
    pod = make_pod(
        "vols",
        [
            ctr(
                "reader",
                "read",
                "/data/greeting.txt",
                volumeMounts=[
                    {"name": "work", "mountPath": "/data", "subPath": "out", "readOnly": True}
                ],
            )
        ],
        init=[ctr("writer", "write", "/work/out/greeting.txt", "hi there", volumeMounts=[mount])],
        volumes=[{"name": "work", "emptyDir": {}}],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    await recorder.phase("vols", "Succeeded")
    assert await read_log(provider, "vols", "reader") == b"hi there\n"
    root = context.data_dir / "volumes" / f"default_vols_{pod['metadata']['uid']}" / "empty-dir"
    assert (root / "work" / "out" / "greeting.txt").read_text() == "hi there"
    reader_mount = provider.launches[1].mounts[0]
    assert reader_mount.host_path == root / "work" / "out"
    assert (reader_mount.container_path, reader_mount.read_only) == ("/data", True)
    await provider.delete_pod(pod, 1)
    assert not root.exists()


async def test_sub_path_expr_uses_env(provider: PyRuntimeProvider, recorder: Recorder) -> None:
    pod = make_pod(
        "subexpr",
        [
            ctr(
                "main",
                "exit",
                "0",
                env=[{"name": "DIR", "value": "d1"}],
                volumeMounts=[{"name": "v", "mountPath": "/v", "subPathExpr": "logs/$(DIR)"}],
            )
        ],
        volumes=[{"name": "v", "emptyDir": {"medium": "Memory"}}],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    await recorder.phase("subexpr", "Succeeded")
    host = provider.launches[0].mounts[0].host_path
    assert host.parts[-3:] == ("v", "logs", "d1") and host.is_dir()


@pytest.mark.parametrize(
    ("volumes", "mount", "message"),
    [
        (
            [{"name": "n", "nfs": {"server": "x", "path": "/"}}],
            {"name": "n", "mountPath": "/n"},
            "volume type nfs is not supported",
        ),
        (
            [{"name": "e", "emptyDir": {}}],
            {"name": "e", "mountPath": "/e", "subPath": "../escape"},
            "volume 'e': subPath '../escape' must be a relative path without '..'",
        ),
        (
            [],
            {"name": "ghost", "mountPath": "/g"},
            "container 'main' mounts unknown volume 'ghost'",
        ),
    ],
)
async def test_volume_config_errors(
    provider: PyRuntimeProvider,
    recorder: Recorder,
    volumes: list[dict[str, object]],
    mount: dict[str, object],
    message: str,
) -> None:
    pod = make_pod("badvol", [ctr("main", "exit", "0", volumeMounts=[mount])], volumes=volumes)
    await provider.create_pod(pod)
    status = await recorder.status(
        "badvol", lambda s: state_reason(s, "main") == "CreateContainerConfigError"
    )
    assert container(status, "main")["state"]["waiting"]["message"] == message
    assert status["phase"] == "Pending"


async def test_unmounted_unsupported_volume_is_ignored(
    provider: PyRuntimeProvider, recorder: Recorder
) -> None:
    pod = make_pod(
        "unused",
        [ctr("main", "exit", "0")],
        volumes=[{"name": "n", "nfs": {"server": "x", "path": "/"}}],
        restart_policy="Never",
    )
    await provider.create_pod(pod)
    await recorder.phase("unused", "Succeeded")
