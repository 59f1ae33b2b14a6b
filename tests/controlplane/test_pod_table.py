"""The server-side pod table's READY, STATUS and RESTARTS, as kubectl's printPod computes
them (init containers, crash loops, completion, termination)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.controlplane.conftest import Client, pod

PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def _c(name: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0) -> Any:
    return {
        "name": name,
        "image": "example/app:1",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state,
    }


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}
INIT_WAIT = {"waiting": {"reason": "PodInitializing"}}


def _status(phase: str, init: list[Any], main: list[Any], **extra: Any) -> dict[str, Any]:
    return {"phase": phase, "initContainerStatuses": init, "containerStatuses": main, **extra}


INITIALIZED = [{"type": "Initialized", "status": "True"}]
NOT_INITIALIZED = [{"type": "Initialized", "status": "False"}]

CASES = [
    (  # first init container running
        _status(
            "Pending",
            [_c("a", RUNNING), _c("b", INIT_WAIT)],
            [_c("main", INIT_WAIT)],
            conditions=NOT_INITIALIZED,
        ),
        "0/1",
        "Init:0/2",
        0,
    ),
    (  # second one running
        _status(
            "Pending",
            [_c("a", DONE), _c("b", RUNNING)],
            [_c("main", INIT_WAIT)],
            conditions=NOT_INITIALIZED,
        ),
        "0/1",
        "Init:1/2",
        0,
    ),
    (  # an init container failed (restartPolicy Never): the pod Failed
        _status(
            "Failed",
            [_c("a", {"terminated": {"exitCode": 1, "reason": "Error"}}), _c("b", INIT_WAIT)],
            [_c("main", INIT_WAIT)],
            conditions=NOT_INITIALIZED,
        ),
        "0/1",
        "Init:Error",
        0,
    ),
    (  # an init container crash-looping
        _status(
            "Pending",
            [
                _c("a", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3),
                _c("b", INIT_WAIT),
            ],
            [_c("main", INIT_WAIT)],
            conditions=NOT_INITIALIZED,
        ),
        "0/1",
        "Init:CrashLoopBackOff",
        3,
    ),
    (  # an init container exited non-zero without a reason
        _status(
            "Pending",
            [_c("a", {"terminated": {"exitCode": 2}}), _c("b", INIT_WAIT)],
            [_c("main", INIT_WAIT)],
        ),
        "0/1",
        "Init:ExitCode:2",
        0,
    ),
    (  # initialized, the app container still starting
        _status(
            "Pending",
            [_c("a", DONE), _c("b", DONE)],
            [_c("main", {"waiting": {"reason": "PodInitializing"}})],
            conditions=INITIALIZED,
        ),
        "0/1",
        "PodInitializing",
        0,
    ),
    (
        _status(
            "Running",
            [_c("a", DONE), _c("b", DONE)],
            [_c("main", RUNNING, ready=True, restarts=1)],
            conditions=INITIALIZED,
        ),
        "1/1",
        "Running",
        1,
    ),
    (
        _status(
            "Running",
            [_c("a", DONE), _c("b", DONE)],
            [_c("main", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4)],
            conditions=INITIALIZED,
        ),
        "0/1",
        "CrashLoopBackOff",
        4,
    ),
    (
        _status(
            "Succeeded",
            [_c("a", DONE), _c("b", DONE)],
            [_c("main", DONE)],
            conditions=INITIALIZED,
        ),
        "0/1",
        "Completed",
        0,
    ),
]


async def _row(client: Client, name: str) -> list[Any]:
    async with client.session.get(
        f"{client.cp.url}{PODS}/{name}", headers={"Accept": TABLE}, ssl=client.ssl
    ) as resp:
        table = await resp.json()
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    cells = table["rows"][0]["cells"]
    return [cells[names.index(n)] for n in ("Ready", "Status", "Restarts")]


@pytest.mark.parametrize(("status", "ready", "shown", "restarts"), CASES)
async def test_status_column_as_kubectl_prints_it(
    client: Client, status: dict[str, Any], ready: str, shown: str, restarts: int
) -> None:
    body = pod("p")
    body["spec"]["initContainers"] = [
        {"name": "a", "image": "example/init:1"},
        {"name": "b", "image": "example/init:1"},
    ]
    created = await client.ok("POST", PODS, body)
    created["status"] = status
    await client.ok("PUT", f"{PODS}/p/status", created)
    assert await _row(client, "p") == [ready, shown, restarts]


async def test_a_deleting_pod_is_terminating(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("p", nodeName="n1"))
    created["status"] = _status("Running", [], [_c("main", RUNNING, ready=True)])
    await client.ok("PUT", f"{PODS}/p/status", created)
    await client.ok("DELETE", f"{PODS}/p")
    assert await _row(client, "p") == ["1/1", "Terminating", 0]
