"""Fixtures for the container lifecycle: a PyRuntimeProvider wired to a recording context."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._provider.base import EventType, KubeObject, LogOptions, ProviderContext
from kubelet_core.containers import BackoffPolicy, LifecycleTimings
from tests.containers.pyruntime import PyRuntimeProvider

#: Fast back-off for tests that check behaviour, not timing: 50 ms doubling to 200 ms.
FAST = LifecycleTimings(
    crash_loop=BackoffPolicy(initial=0.05, maximum=0.2, reset_after=5.0),
    image_pull=BackoffPolicy(initial=0.05, maximum=0.2),
    config_retry=BackoffPolicy(initial=0.05, maximum=0.2),
    image_pull_error_hold=0.01,
    stop_slack=1.0,
    log_poll_max=0.02,
)


@dataclasses.dataclass
class Event:
    pod: str
    type: EventType
    reason: str
    message: str
    at: float  # loop time


class Recorder:
    """Collects statuses and events; tests await the ones they expect, in order."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[KubeObject]] = {}
        self.events: list[Event] = []
        self._cursor: dict[str, int] = {}
        self._event_cursor = 0
        self._changed = asyncio.Event()

    def notify(self, pod: KubeObject, status: KubeObject) -> None:
        self.statuses.setdefault(pod["metadata"]["name"], []).append(status)
        self._changed.set()

    def record(self, pod: KubeObject, event_type: EventType, reason: str, message: str) -> None:
        name = pod["metadata"]["name"]
        at = asyncio.get_running_loop().time()
        self.events.append(Event(name, event_type, reason, message, at))
        self._changed.set()

    async def _until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = check()
                    if found is not None:
                        return found
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def status(
        self, pod: str, predicate: Callable[[KubeObject], bool], timeout: float = 5.0
    ) -> KubeObject:
        """The next status of ``pod`` (after the last one returned) that matches."""

        def check() -> KubeObject | None:
            history = self.statuses.get(pod, [])
            start = self._cursor.get(pod, 0)
            for index in range(start, len(history)):
                if predicate(history[index]):
                    self._cursor[pod] = index + 1
                    return history[index]
            return None

        result: KubeObject = await self._until(check, timeout, f"a status of {pod}")
        return result

    async def phase(self, pod: str, phase: str, timeout: float = 5.0) -> KubeObject:
        return await self.status(pod, lambda s: s["phase"] == phase, timeout)

    async def event(
        self, reason: str, contains: str = "", *, pod: str | None = None, timeout: float = 5.0
    ) -> Event:
        """The next event with ``reason`` (after the last one returned)."""

        def check() -> Event | None:
            for index in range(self._event_cursor, len(self.events)):
                event = self.events[index]
                if (
                    event.reason == reason
                    and contains in event.message
                    and (pod is None or event.pod == pod)
                ):
                    self._event_cursor = index + 1
                    return event
            return None

        result: Event = await self._until(check, timeout, f"event {reason} {contains!r}")
        return result

    def reasons(self, pod: str) -> list[str]:
        return [e.reason for e in self.events if e.pod == pod]


def container(status: KubeObject, name: str, *, init: bool = False) -> KubeObject:
    key = "initContainerStatuses" if init else "containerStatuses"
    for item in status.get(key, []):
        if item["name"] == name:
            return dict(item)
    raise KeyError(name)


def state_reason(status: KubeObject, name: str, *, init: bool = False) -> str | None:
    """``waiting.reason``, ``terminated.reason`` or ``"Running"`` of one container."""
    state = container(status, name, init=init)["state"]
    if "running" in state:
        return "Running"
    for kind in ("waiting", "terminated"):
        if kind in state:
            return str(state[kind].get("reason"))
    return None


def make_pod(
    name: str,
    containers: list[KubeObject],
    *,
    init: list[KubeObject] | None = None,
    restart_policy: str = "Always",
    **spec: Any,
) -> KubeObject:
    body: KubeObject = {
        "containers": containers,
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": 1,
        **spec,
    }
    if init:
        body["initContainers"] = init
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": body,
    }


def ctr(name: str, *script: str, image: str = "pyrt/app:v1", **fields: Any) -> KubeObject:
    """A container running ``script`` (tokens, ``;`` between steps)."""
    return {"name": name, "image": image, "args": list(script), **fields}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def make_context(tmp_path: Path, recorder: Recorder, node_name: str = "node-1") -> ProviderContext:
    """A ProviderContext whose statuses and events go to ``recorder`` (shared by provider tests)."""
    return ProviderContext(
        node_name=node_name,
        node_ip="127.0.0.1",
        data_dir=tmp_path / "node",
        notify_pod_status=recorder.notify,
        record_event=recorder.record,
        modules_dir=tmp_path / "modules",
    )


@pytest.fixture
def context(tmp_path: Path, recorder: Recorder) -> ProviderContext:
    return make_context(tmp_path, recorder)


@pytest.fixture
async def provider(context: ProviderContext) -> AsyncIterator[PyRuntimeProvider]:
    prov = PyRuntimeProvider(timings=FAST)
    await prov.start(context)
    yield prov
    await prov.shutdown()


async def read_log(prov: PyRuntimeProvider, pod: str, name: str, **options: Any) -> bytes:
    chunks = [
        chunk async for chunk in prov.container_logs("default", pod, name, LogOptions(**options))
    ]
    return b"".join(chunks)
