"""Shared helpers for the volume and environment tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from tests.e2e.conftest import Wasmlet

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``check`` (every 0.1 s) until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}; last: {last!r}")


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def events_for(wasmlet: Wasmlet, pod: str) -> list[dict[str, Any]]:
    listed = wasmlet.kubectl_json("get", "events", "--field-selector", f"involvedObject.name={pod}")
    return list(listed.get("items") or [])


def wait_event(wasmlet: Wasmlet, pod: str, reason: str, timeout: float = 30.0) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((e for e in events_for(wasmlet, pod) if e.get("reason") == reason), None)

    return eventually(find, timeout, f"event {reason} on {pod}")


def waiting_state(wasmlet: Wasmlet, pod: str) -> dict[str, Any]:
    """The first container's waiting state, once the node has written one (a first
    Pending status may be held for a moment in case Running follows)."""
    wasmlet.kubectl(
        "wait",
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}",
        f"pod/{pod}",
        "--timeout=30s",
        check=False,
        timeout=40,
    )
    status = wasmlet.kubectl_json("get", "pod", pod).get("status") or {}
    statuses = status.get("containerStatuses") or [{}]
    return dict((statuses[0].get("state") or {}).get("waiting") or {})


def wait_phase(wasmlet: Wasmlet, pod: str, phase: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait for ``phase``; fail at once (with status and log) if the pod ends otherwise."""
    terminal = {"Succeeded", "Failed"} - {phase}
    seen: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        seen.update(wasmlet.kubectl_json("get", "pod", pod))
        current = (seen.get("status") or {}).get("phase")
        if current in terminal:
            raise AssertionError(
                f"pod {pod} is {current}, not {phase}: {seen.get('status')}\n"
                f"log: {pod_log(wasmlet, pod)}"
            )
        return seen if current == phase else None

    try:
        return eventually(check, timeout, f"pod {pod} to be {phase}")
    except AssertionError as exc:
        if "timed out" in str(exc):
            raise AssertionError(f"{exc}\nstatus: {seen.get('status')}") from None
        raise


def pod_log(wasmlet: Wasmlet, pod: str, container: str = "main") -> str:
    """The container's log: ``kubectl logs``, or the log file itself when the kubelet API
    path of this build refuses it (the log content is what these tests check)."""
    result = wasmlet.kubectl("logs", pod, "-c", container, check=False)
    if not result.startswith("Error from server"):
        return result
    uid = wasmlet.kubectl_json("get", "pod", pod)["metadata"]["uid"]
    base = wasmlet.data_dir.resolve() / "nodes" / "wasmlet-wasi" / "pods"
    files = sorted(base.glob(f"default_{pod}_{uid}/{container}/*.log"))
    return files[-1].read_text() if files else ""


def create(wasmlet: Wasmlet, manifest: dict[str, Any]) -> None:
    """``kubectl create -f -``: unlike apply, adds no last-applied annotation."""
    result = subprocess.run(
        [wasmlet.kubectl_binary, "create", "-f", "-"],
        input=yaml.safe_dump(manifest),
        env={**os.environ, "KUBECONFIG": str(wasmlet.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
