"""Volumes and environment through the whole stack: ``wasmlet up``, kubectl, the WASI module.

Each pod runs the scripted module, whose arguments state what the container
must see (``assert_content``, ``assert_env``, ``wait_for_content``...); a pod
that ends Succeeded saw exactly that.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

from kubelet_core._volumes.host import tmpfs_root
from tests.e2e.conftest import Wasmlet, wasi_pod
from tests.volumes.helpers import (
    configmap,
    create,
    eventually,
    pod_log,
    secret,
    wait_event,
    wait_phase,
    waiting_state,
)


def node_dir(wasmlet: Wasmlet) -> Path:
    return wasmlet.data_dir.resolve() / "nodes" / "wasmlet-wasi"


def pod_uid(wasmlet: Wasmlet, name: str) -> str:
    return str(wasmlet.kubectl_json("get", "pod", name)["metadata"]["uid"])


def logs_contain(wasmlet: Wasmlet, pod: str, text: str) -> bool:
    return text in pod_log(wasmlet, pod)


def test_configmap_secret_files_and_env(wasmlet: Wasmlet) -> None:
    wasmlet.apply(
        configmap("app-config", {"greeting": "hello", "extra.txt": "more", "1st": "x"}),
        secret("app-secret", {"password": "s3cret"}),
    )
    env = [
        {
            "name": "GREETING",
            "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "greeting"}},
        },
        {
            "name": "PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}},
        },
        {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAME)"},  # POD_NAME is later
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
        {
            "name": "MEM_MI",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
        },
        {
            "name": "CPU_M",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
        },
        {
            "name": "OPTIONAL",
            "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
        },
    ]
    args = [
        "read",
        "/etc/config/greeting",
        "assert_content",
        "/etc/config/greeting",
        "hello",
        "assert_content",
        "/etc/config/extra.txt",
        "more",
        "assert_content",
        "/etc/secret/password",
        "s3cret",
        "assert_env",
        "GREETING",
        "hello",
        "assert_env",
        "PASSWORD",
        "s3cret",
        "assert_env",
        "MESSAGE",
        "hello from $$(POD_NAME)",  # $$: args are expanded too
        "assert_env",
        "POD_NAME",
        "files-env",
        "assert_env",
        "POD_NS",
        "default",
        "assert_env",
        "NODE",
        "wasmlet-wasi",
        "assert_env",
        "TEAM",
        "blue",
        "assert_env",
        "SA",
        "default",
        "assert_env",
        "MEM_MI",
        "64",
        "assert_env",
        "CPU_M",
        "500",
        "assert_env",
        "CFG_greeting",
        "hello",
        "assert_env",
        "CFG_extra.txt",
        "more",
        "assert_env",
        "CFG_1st",
        "x",
        "assert_env",
        "extra.txt",
        "more",
        "env",
        "POD_NS",
    ]
    pod = wasi_pod(
        "files-env",
        args,
        container={
            "env": env,
            "envFrom": [
                {"configMapRef": {"name": "app-config"}, "prefix": "CFG_"},
                {"configMapRef": {"name": "app-config"}},  # "1st" is no variable name here
                {"secretRef": {"name": "absent-secret", "optional": True}},
            ],
            "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/config"},
                {"name": "secret", "mountPath": "/etc/secret", "readOnly": True},
            ],
        },
        volumes=[
            {"name": "config", "configMap": {"name": "app-config"}},
            {"name": "secret", "secret": {"secretName": "app-secret"}},
        ],
    )
    pod["metadata"]["labels"] = {"team": "blue"}
    wasmlet.apply(pod)
    wait_phase(wasmlet, "files-env", "Succeeded")
    logs = pod_log(wasmlet, "files-env")
    assert logs == "helloPOD_NS=default\n"
    # "1st" is not a variable name: skipped, with kubelet's event.
    skipped = wait_event(wasmlet, "files-env", "InvalidEnvironmentVariableNames")
    assert skipped["type"] == "Warning"
    assert skipped["message"] == (
        "Keys [1st] from the EnvFrom configMap default/app-config were skipped "
        "since they are considered invalid environment variable names."
    )
    # Secrets live on tmpfs (this machine has a writable /dev/shm), under 0700 directories;
    # the volume itself is readable by the pod's user, which opens it by descriptor.
    uid = pod_uid(wasmlet, "files-env")
    shm = tmpfs_root(node_dir(wasmlet))
    assert shm is not None
    secret_dir = shm / f"default_files-env_{uid}" / "secret" / "secret"
    assert (secret_dir / "password").read_text() == "s3cret"
    assert stat.S_IMODE(secret_dir.stat().st_mode) == 0o755
    for private in (secret_dir.parent, secret_dir.parent.parent, shm):
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert (secret_dir / "..data").is_symlink()
    on_disk = node_dir(wasmlet) / "volumes" / f"default_files-env_{uid}"
    assert (on_disk / "configmap" / "config" / "greeting").read_text() == "hello"
    assert not (on_disk / "secret").exists()
    # Deleting the pod removes every directory it had.
    # A finished pod leaves the API at once; the node removes its directories
    # when its watch sees that, so wait (bounded) for the node, not for the API.
    wasmlet.kubectl("delete", "pod", "files-env", "--wait=true", timeout=60)
    gone = [on_disk, shm / f"default_files-env_{uid}"]
    deadline = time.monotonic() + 20
    while any(path.exists() for path in gone) and time.monotonic() < deadline:
        time.sleep(0.05)  # a filesystem has no event to await here
    assert not any(path.exists() for path in gone)
    output = "".join(wasmlet.output)
    assert "s3cret" not in output


def test_items_modes_and_optional(wasmlet: Wasmlet) -> None:
    wasmlet.apply(
        configmap("modes-config", {"greeting": "hi", "other": "x"}),
        secret("modes-secret", {"token": "t0k"}),
    )
    args = [
        "assert_content",
        "/cfg/nested/hello.txt",
        "hi",
        "assert_not_exists",
        "/cfg/greeting",
        "assert_not_exists",
        "/cfg/other",
        "assert_content",
        "/sec/token",
        "t0k",
        "assert_not_exists",
        "/opt/anything",
        "assert_content",
        "/mixed/a",
        "hi",
        "assert_not_exists",
        "/mixed/b",
    ]
    pod = wasi_pod(
        "modes",
        args,
        container={
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/cfg"},
                {"name": "sec", "mountPath": "/sec"},
                {"name": "opt", "mountPath": "/opt"},
                {"name": "mixed", "mountPath": "/mixed"},
            ]
        },
        volumes=[
            {
                "name": "cfg",
                "configMap": {
                    "name": "modes-config",
                    "defaultMode": 0o640,
                    "items": [{"key": "greeting", "path": "nested/hello.txt", "mode": 0o400}],
                },
            },
            {"name": "sec", "secret": {"secretName": "modes-secret", "defaultMode": 0o600}},
            {"name": "opt", "configMap": {"name": "does-not-exist", "optional": True}},
            {
                "name": "mixed",
                "configMap": {
                    "name": "modes-config",
                    "optional": True,
                    "items": [{"key": "greeting", "path": "a"}, {"key": "missing", "path": "b"}],
                },
            },
        ],
    )
    wasmlet.apply(pod)
    wait_phase(wasmlet, "modes", "Succeeded")
    uid = pod_uid(wasmlet, "modes")
    cfg = node_dir(wasmlet) / "volumes" / f"default_modes_{uid}" / "configmap" / "cfg"
    # The pod names no user: it runs as nobody, and its volumes are treated as with
    # fsGroup 65534 on a real cluster (group-owned, group read added to each mode).
    hello = (cfg / "nested" / "hello.txt").stat()
    assert (stat.S_IMODE(hello.st_mode), hello.st_gid) == (0o440, 65534)
    shm = tmpfs_root(node_dir(wasmlet))
    assert shm is not None
    sec = shm / f"default_modes_{uid}" / "secret" / "sec"
    token = (sec / "token").stat()
    assert (stat.S_IMODE(token.st_mode), token.st_gid) == (0o640, 65534)
    wasmlet.kubectl("delete", "pod", "modes", "--wait=false")


def test_configmap_update_reaches_running_module(wasmlet: Wasmlet) -> None:
    wasmlet.apply(configmap("live-config", {"greeting": "v1"}))
    args = [
        "assert_content",
        "/etc/config/greeting",
        "v1",
        "echo",
        "saw-v1",
        "wait_for_content",
        "/etc/config/greeting",
        "v2",
        "30000",
        "assert_content",
        "/etc/config/added",
        "new key",
        "echo",
        "saw-v2",
    ]
    pod = wasi_pod(
        "live",
        args,
        container={"volumeMounts": [{"name": "config", "mountPath": "/etc/config"}]},
        volumes=[{"name": "config", "configMap": {"name": "live-config"}}],
    )
    wasmlet.apply(pod)
    eventually(lambda: logs_contain(wasmlet, "live", "saw-v1"), 60, "the module to read v1")
    wasmlet.apply(configmap("live-config", {"greeting": "v2", "added": "new key"}))
    wait_phase(wasmlet, "live", "Succeeded")
    assert pod_log(wasmlet, "live") == "saw-v1\nsaw-v2\n"
    status = wasmlet.kubectl_json("get", "pod", "live")["status"]["containerStatuses"][0]
    assert status["restartCount"] == 0
    wasmlet.kubectl("delete", "pod", "live", "--wait=false")


def test_downward_api_volume_follows_labels(wasmlet: Wasmlet) -> None:
    args = [
        "assert_content",
        "/etc/pod/name",
        "downward",
        "assert_content",
        "/etc/pod/namespace",
        "default",
        "assert_content",
        "/etc/pod/labels",
        'app="web"\ntier="front"',
        "assert_content",
        "/etc/pod/team",
        "blue",
        "assert_content",
        "/etc/pod/mem",
        "32",
        "assert_content",
        "/etc/pod/annotations",
        'note="say \\"hi\\""\nteam="blue"',
        "echo",
        "ready",
        "wait_for_content",
        "/etc/pod/labels",
        'app="web"\nrelease="2"\ntier="front"',
        "30000",
        "echo",
        "relabelled",
    ]
    pod = wasi_pod(
        "downward",
        args,
        container={
            "resources": {"limits": {"memory": "32Mi"}},
            "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/pod"}],
        },
        volumes=[
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                        {"path": "team", "fieldRef": {"fieldPath": "metadata.annotations['team']"}},
                        {
                            "path": "mem",
                            "resourceFieldRef": {
                                "containerName": "main",
                                "resource": "limits.memory",
                                "divisor": "1Mi",
                            },
                        },
                    ]
                },
            }
        ],
    )
    pod["metadata"]["labels"] = {"app": "web", "tier": "front"}
    pod["metadata"]["annotations"] = {"team": "blue", "note": 'say "hi"'}
    create(wasmlet, pod)
    eventually(
        lambda: (
            logs_contain(wasmlet, "downward", "ready")
            or wasmlet.kubectl_json("get", "pod", "downward")["status"].get("phase") == "Failed"
        ),
        60,
        "the module to check the files",
    )
    assert logs_contain(wasmlet, "downward", "ready"), pod_log(wasmlet, "downward")
    wasmlet.kubectl("label", "pod", "downward", "release=2")
    wait_phase(wasmlet, "downward", "Succeeded")
    uid = pod_uid(wasmlet, "downward")
    files = node_dir(wasmlet) / "volumes" / f"default_downward_{uid}" / "downward-api" / "podinfo"
    assert (files / "uid").read_text() == uid
    wasmlet.kubectl("delete", "pod", "downward", "--wait=false")


def test_missing_configmap_waits_then_starts(wasmlet: Wasmlet) -> None:
    pod = wasi_pod(
        "late",
        ["assert_content", "/cfg/key", "arrived"],
        container={"volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]},
        volumes=[{"name": "cfg", "configMap": {"name": "late-config"}}],
    )
    wasmlet.apply(pod)
    event = wait_event(wasmlet, "late", "FailedMount")
    assert event["type"] == "Warning"
    assert event["message"] == (
        'MountVolume.SetUp failed for volume "cfg" : configmap "late-config" not found'
    )
    status = wasmlet.kubectl_json("get", "pod", "late")["status"]
    assert status["phase"] == "Pending"
    assert waiting_state(wasmlet, "late").get("reason") == "ContainerCreating"
    wasmlet.apply(configmap("late-config", {"key": "arrived"}))
    wasmlet.wait_phase("late", "Succeeded", timeout=20)  # woken by the watch, no back-off wait
    wasmlet.kubectl("delete", "pod", "late", "--wait=false")


def test_env_errors_are_create_container_config_errors(wasmlet: Wasmlet) -> None:
    wasmlet.apply(configmap("env-config", {"present": "yes"}))
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "env-missing-cm",
            {"configMapKeyRef": {"name": "absent", "key": "k"}},
            'configmap "absent" not found',
        ),
        (
            "env-missing-key",
            {"configMapKeyRef": {"name": "env-config", "key": "k"}},
            "couldn't find key k in ConfigMap default/env-config",
        ),
        (
            "env-missing-secret",
            {"secretKeyRef": {"name": "absent", "key": "k"}},
            'secret "absent" not found',
        ),
    ]
    for name, source, _message in cases:
        wasmlet.apply(
            wasi_pod(name, ["exit", "0"], container={"env": [{"name": "X", "valueFrom": source}]})
        )
    for name, _source, message in cases:
        wasmlet.kubectl(
            "wait",
            "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}"
            "=CreateContainerConfigError",
            f"pod/{name}",
            "--timeout=30s",
            timeout=40,
        )
        assert waiting_state(wasmlet, name)["message"] == message
        wasmlet.kubectl("delete", "pod", name, "--wait=false")


def test_host_path_refused_unless_allowed(wasmlet: Wasmlet) -> None:
    pod = wasi_pod(
        "hostpath",
        ["exit", "0"],
        container={"volumeMounts": [{"name": "host", "mountPath": "/host"}]},
        volumes=[{"name": "host", "hostPath": {"path": "/etc", "type": "Directory"}}],
    )
    wasmlet.apply(pod)
    event = wait_event(wasmlet, "hostpath", "FailedMount")
    assert event["message"] == (
        'MountVolume.SetUp failed for volume "host" : hostPath /etc is not allowed on this '
        "node (allowed_host_paths: none)"
    )
    assert waiting_state(wasmlet, "hostpath").get("reason") == "ContainerCreating"
    wasmlet.kubectl("delete", "pod", "hostpath", "--wait=false")


def test_sub_path_and_read_only(wasmlet: Wasmlet) -> None:
    work = {"name": "work", "mountPath": "/work", "subPath": "sub"}  # created on demand
    pod = wasi_pod(
        "subpath",
        [
            "assert_content",
            "/ro/file",
            "from init",
            "assert_not_exists",
            "/ro/sub/file",
            "assert_content",
            "/rw/file",
            "from init",
            "write",
            "/rw/second",
            "ok",
            "write",
            "/ro/third",
            "refused",
        ],
        container={
            "volumeMounts": [
                {"name": "work", "mountPath": "/ro", "subPath": "sub", "readOnly": True},
                {"name": "work", "mountPath": "/rw", "subPath": "sub"},
            ]
        },
        initContainers=[
            {
                "name": "init",
                "image": "examples.wasmlet.dev/wasi-script:v1",
                "args": ["write", "/work/file", "from init"],
                "volumeMounts": [work],
            }
        ],
        volumes=[{"name": "work", "emptyDir": {}}],
    )
    wasmlet.apply(pod)
    wait_phase(wasmlet, "subpath", "Failed")
    terminated = wasmlet.kubectl_json("get", "pod", "subpath")["status"]["containerStatuses"][0][
        "state"
    ]["terminated"]
    assert terminated["exitCode"] == 1
    assert "ERR: cannot open /ro/third" in pod_log(wasmlet, "subpath")
    uid = pod_uid(wasmlet, "subpath")
    sub = node_dir(wasmlet) / "volumes" / f"default_subpath_{uid}" / "empty-dir" / "work" / "sub"
    assert (sub / "second").read_text() == "ok"
    assert not (sub / "third").exists()
    wasmlet.kubectl("delete", "pod", "subpath", "--wait=false")


def test_empty_dir_size_limit_evicts(wasmlet: Wasmlet) -> None:
    pod = wasi_pod(
        "too-big",
        ["write", "/scratch/big", "x" * 8192, "sleep", "60000"],
        container={"volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]},
        volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "4Ki"}}],
    )
    wasmlet.apply(pod)
    wait_phase(wasmlet, "too-big", "Failed", timeout=30)
    status = wasmlet.kubectl_json("get", "pod", "too-big")["status"]
    assert status["reason"] == "Evicted"
    assert status["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "4Ki". '
    event = wait_event(wasmlet, "too-big", "Evicted")
    assert event["type"] == "Warning"
    wasmlet.kubectl("delete", "pod", "too-big", "--wait=false")
