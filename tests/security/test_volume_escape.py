"""Finding 1: a pod reading and writing host files through symlinks in its own volumes.

The attack through the whole stack (``wasmlet up``, kubectl, the scripted WASI
module): an init container leaves a relative symlink climbing out of an
emptyDir (``symlink ../../../../etc /data/etc``), and the app container mounts
the same volume with ``subPath: etc``.  Joining the subPath on the host and
following the link gave the container the host's ``/etc``.  Now the subPath is
resolved beneath the volume directory: the container waits in
CreateContainerConfigError with kubelet's message and a Failed event, and
never runs.  A link that stays inside the volume still works (kubelet follows
those).  The same for ``subPathExpr`` and inside an allowed ``hostPath``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Wasmlet, wasi_pod
from tests.security.conftest import Guarded
from tests.volumes.helpers import pod_log, wait_event, wait_phase, waiting_state

pytestmark = pytest.mark.needs_kubectl

SCRIPT = "examples.wasmlet.dev/wasi-script:v1"
#: Far more ``..`` than the volume is deep: climbs to ``/`` whatever the data dir is.
UP = "../" * 40


def init(name: str, args: list[str], mount: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "image": SCRIPT, "args": args, "volumeMounts": [mount]}


def wait_config_error(up: Wasmlet, pod: str) -> dict[str, Any]:
    """The main container's waiting state once CreateContainerConfigError (event-driven)."""
    try:
        up.kubectl(
            "wait",
            "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}"
            "=CreateContainerConfigError",
            f"pod/{pod}",
            "--timeout=40s",
            timeout=50,
        )
    except AssertionError:
        status = up.kubectl_json("get", "pod", pod).get("status")
        raise AssertionError(
            f"pod {pod} never waited in CreateContainerConfigError: {status}\n"
            f"what the container saw: {pod_log(up, pod)!r}"
        ) from None
    return waiting_state(up, pod)


def assert_never_ran(up: Wasmlet, pod: str, *leaks: str) -> None:
    status = up.kubectl_json("get", "pod", pod)["status"]
    main = status["containerStatuses"][0]
    assert "waiting" in main["state"], main
    assert main.get("lastState", {}) == {}, main  # it never started, not even once
    assert status["phase"] == "Pending"
    log = pod_log(up, pod)
    for leak in leaks:
        assert leak not in log


def test_sub_path_through_an_escaping_symlink_is_refused(guarded: Guarded) -> None:
    """The audit's exact attack: the container must not see the host's /etc."""
    up = guarded.up
    data = {"name": "data", "mountPath": "/data"}
    pod = wasi_pod(
        "escape-subpath",
        ["read", "/x/passwd", "read", "/x/hostname", "write", "/x/pwned", "owned"],
        container={"volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "etc"}]},
        initContainers=[init("plant", ["symlink", UP + "etc", "/data/etc"], data)],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    up.apply(pod)
    waiting = wait_config_error(up, "escape-subpath")
    expected = (
        'failed to prepare subPath for volumeMount "data" of container "main": '
        'subPath "etc": it resolves outside the volume'
    )
    assert waiting["message"] == expected
    event = wait_event(up, "escape-subpath", "Failed")
    assert event["message"] == f"Error: {expected}"
    assert event["type"] == "Warning"
    assert_never_ran(up, "escape-subpath", "root:", "/bin/")
    up.kubectl("delete", "pod", "escape-subpath", "--wait=false")


def test_sub_path_to_a_planted_host_file_is_refused(guarded: Guarded) -> None:
    """Same attack aimed at a file the test controls: its content never reaches the pod."""
    up = guarded.up
    data = {"name": "data", "mountPath": "/data"}
    target = UP + str(guarded.secret.parent).lstrip("/")
    pod = wasi_pod(
        "escape-loot",
        ["read", "/loot/token", "write", "/loot/token", "overwritten"],
        container={"volumeMounts": [{"name": "data", "mountPath": "/loot", "subPath": "loot"}]},
        initContainers=[init("plant", ["symlink", target, "/data/loot"], data)],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    up.apply(pod)
    wait_config_error(up, "escape-loot")
    assert_never_ran(up, "escape-loot", "TOP-SECRET-HOST-FILE")
    assert guarded.secret.read_text() == "TOP-SECRET-HOST-FILE"
    up.kubectl("delete", "pod", "escape-loot", "--wait=false")


def test_sub_path_expr_through_an_escaping_symlink_is_refused(guarded: Guarded) -> None:
    up = guarded.up
    data = {"name": "data", "mountPath": "/data"}
    pod = wasi_pod(
        "escape-expr",
        ["read", "/x/passwd"],
        container={
            "env": [{"name": "DIR", "value": "etc"}],
            "volumeMounts": [{"name": "data", "mountPath": "/x", "subPathExpr": "$(DIR)"}],
        },
        initContainers=[
            init("plant", ["mkdir", "/data/nested", "symlink", UP + "etc", "/data/etc"], data)
        ],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    up.apply(pod)
    waiting = wait_config_error(up, "escape-expr")
    assert waiting["message"] == (
        'failed to prepare subPath for volumeMount "data" of container "main": '
        'subPath "etc": it resolves outside the volume'
    )
    assert_never_ran(up, "escape-expr", "root:")
    up.kubectl("delete", "pod", "escape-expr", "--wait=false")


def test_a_missing_sub_path_below_an_escaping_symlink_is_not_created_outside(
    guarded: Guarded,
) -> None:
    """kubelet creates a missing subPath as a directory: never through a link leading out."""
    up = guarded.up
    data = {"name": "data", "mountPath": "/data"}
    target = UP + str(guarded.secret.parent).lstrip("/")
    pod = wasi_pod(
        "escape-mkdir",
        ["write", "/x/planted", "x"],
        container={
            "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "loot/made-by-pod"}]
        },
        initContainers=[init("plant", ["symlink", target, "/data/loot"], data)],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    up.apply(pod)
    waiting = wait_config_error(up, "escape-mkdir")
    assert waiting["message"] == (
        'failed to prepare subPath for volumeMount "data" of container "main": '
        'subPath "loot/made-by-pod": it resolves outside the volume'
    )
    assert sorted(p.name for p in guarded.secret.parent.iterdir()) == ["token"]
    up.kubectl("delete", "pod", "escape-mkdir", "--wait=false")


def test_symlinks_that_stay_inside_the_volume_are_followed(guarded: Guarded) -> None:
    up = guarded.up
    data = {"name": "data", "mountPath": "/data"}
    plant = [
        "mkdir", "/data/real",
        "write", "/data/real/file", "inside",
        "symlink", "real", "/data/alias",
        "mkdir", "/data/sub",
        "symlink", "../real", "/data/sub/up",
    ]  # fmt: skip
    check = [
        "assert_content", "/a/file", "inside",
        "assert_content", "/b/file", "inside",
        "write", "/b/second", "via link",
        "assert_content", "/data/real/second", "via link",
    ]  # fmt: skip
    pod = wasi_pod(
        "inside-links",
        check,
        container={
            "volumeMounts": [
                {"name": "data", "mountPath": "/a", "subPath": "alias"},
                {"name": "data", "mountPath": "/b", "subPath": "sub/up"},
                data,
            ]
        },
        initContainers=[init("plant", plant, data)],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    up.apply(pod)
    wait_phase(up, "inside-links", "Succeeded")
    up.kubectl("delete", "pod", "inside-links", "--wait=false")


def test_host_path_sub_path_through_a_planted_symlink_is_refused(guarded: Guarded) -> None:
    """Inside an allowed hostPath: a link a pod plants there does not widen the allow-list."""
    up = guarded.up
    host = {"name": "host", "mountPath": "/host"}
    pod = wasi_pod(
        "escape-hostpath",
        ["read", "/x/passwd", "read", "/x/greeting"],
        container={"volumeMounts": [{"name": "host", "mountPath": "/x", "subPath": "esc"}]},
        initContainers=[init("plant", ["symlink", UP + "etc", "/host/esc"], host)],
        volumes=[{"name": "host", "hostPath": {"path": str(guarded.allowed), "type": "Directory"}}],
    )
    up.apply(pod)
    waiting = wait_config_error(up, "escape-hostpath")
    assert waiting["message"] == (
        'failed to prepare subPath for volumeMount "host" of container "main": '
        'subPath "esc": it resolves outside the volume'
    )
    assert_never_ran(up, "escape-hostpath", "root:")
    up.kubectl("delete", "pod", "escape-hostpath", "--wait=false")


def test_host_path_through_a_planted_symlink_is_a_failed_mount(guarded: Guarded) -> None:
    """A hostPath below the allowed directory that resolves outside it is never mounted."""
    up = guarded.up
    (guarded.allowed / "planted").symlink_to(guarded.secret.parent)
    path = guarded.allowed / "planted"
    pod = wasi_pod(
        "escape-hostpath-mount",
        ["read", "/x/token"],
        container={"volumeMounts": [{"name": "host", "mountPath": "/x"}]},
        volumes=[{"name": "host", "hostPath": {"path": str(path), "type": "Directory"}}],
    )
    up.apply(pod)
    event = wait_event(up, "escape-hostpath-mount", "FailedMount")
    assert event["message"].startswith(
        f'MountVolume.SetUp failed for volume "host" : hostPath {path} is not allowed on '
        f"this node: it resolves outside {guarded.allowed}"
    )
    assert waiting_state(up, "escape-hostpath-mount").get("reason") == "ContainerCreating"
    assert "TOP-SECRET-HOST-FILE" not in pod_log(up, "escape-hostpath-mount")
    up.kubectl("delete", "pod", "escape-hostpath-mount", "--wait=false")


def test_host_path_below_the_allowed_directory_still_works(guarded: Guarded) -> None:
    up = guarded.up
    (guarded.allowed / "inner").mkdir(mode=0o777, exist_ok=True)
    (guarded.allowed / "inner").chmod(0o777)
    (guarded.allowed / "inner-link").symlink_to("inner")
    check = [
        "assert_content", "/all/greeting", "from the allowed dir",
        "write", "/sub/reply", "ok",
        "assert_not_exists", "/made/nothing-yet",
    ]  # fmt: skip
    pod = wasi_pod(
        "hostpath-inside",
        check,
        container={
            "volumeMounts": [
                {"name": "all", "mountPath": "/all"},
                {"name": "all", "mountPath": "/sub", "subPath": "inner-link"},
                {"name": "made", "mountPath": "/made"},
            ]
        },
        volumes=[
            {"name": "all", "hostPath": {"path": str(guarded.allowed), "type": "Directory"}},
            {
                "name": "made",
                "hostPath": {"path": str(guarded.allowed / "a" / "b"), "type": "DirectoryOrCreate"},
            },
        ],
    )
    up.apply(pod)
    wait_phase(up, "hostpath-inside", "Succeeded")
    assert (guarded.allowed / "inner" / "reply").read_text() == "ok"
    made = guarded.allowed / "a" / "b"  # DirectoryOrCreate: made beneath the allowed dir
    assert made.is_dir()
    up.kubectl("delete", "pod", "hostpath-inside", "--wait=false")
