"""A small but real Provider for the node tests: it "runs" pods by reporting statuses.

Pods start Running as soon as they are created (unless ``auto_run`` is off);
tests move them on (``succeed``, ``set_status``) and read what the agent
asked of the provider (``calls``).  Annotations make ``create_pod`` fail the
ways real providers do:

* ``test.wasmlet.io/fail: invalid`` -> ``InvalidPodSpec``;
* ``test.wasmlet.io/fail: transient-N`` -> ``ProviderError`` for the first N tries;
* ``test.wasmlet.io/fail: crash`` -> a plain ``RuntimeError`` (a provider bug).

Every state change notifies an ``asyncio.Condition`` so tests await
conditions instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._provider import (
    InvalidPodSpec,
    KubeObject,
    NodeProfile,
    PodKey,
    Provider,
    ProviderContext,
    ProviderError,
    Taint,
)

FAIL = "test.wasmlet.io/fail"


def key_of(pod: KubeObject) -> str:
    return f"{pod['metadata'].get('namespace') or 'default'}/{pod['metadata']['name']}"


class ScriptedProvider(Provider):
    name = "scripted"

    def __init__(self, *, auto_run: bool = True) -> None:
        self.auto_run = auto_run
        self.pods: dict[str, KubeObject] = {}
        self.statuses: dict[str, KubeObject] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.attempts: dict[str, int] = {}
        self.context: ProviderContext | None = None
        self.shut_down = False
        self._changed: asyncio.Condition | None = None

    # -- helpers for tests ----------------------------------------------------

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _bump(self) -> None:
        async with self._cond():
            self._cond().notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        async def waiter() -> None:
            async with self._cond():
                await self._cond().wait_for(predicate)

        try:
            await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise AssertionError(f"provider condition not met; calls={self.calls}") from None

    def calls_of(self, kind: str) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] == kind]

    def set_status(self, key: str, status: KubeObject) -> None:
        pod = self.pods[key]
        self.statuses[key] = status
        assert self.context is not None
        self.context.notify_pod_status(pod, status)

    def run(self, key: str) -> None:
        pod = self.pods[key]
        self.set_status(
            key,
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": c["name"],
                        "image": c["image"],
                        "imageID": "",
                        "ready": True,
                        "restartCount": 0,
                        "started": True,
                        "containerID": f"scripted://{pod['metadata']['uid']}/{c['name']}",
                        "state": {"running": {"startedAt": rfc3339()}},
                    }
                    for c in pod["spec"]["containers"]
                ],
            },
        )

    def succeed(self, key: str, exit_code: int = 0) -> None:
        pod = self.pods[key]
        self.set_status(
            key,
            {
                "phase": "Succeeded" if exit_code == 0 else "Failed",
                "containerStatuses": [
                    {
                        "name": c["name"],
                        "image": c["image"],
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {
                            "terminated": {
                                "exitCode": exit_code,
                                "reason": "Completed",
                                "finishedAt": rfc3339(),
                            }
                        },
                    }
                    for c in pod["spec"]["containers"]
                ],
            },
        )

    # -- the Provider contract --------------------------------------------------

    def node_profile(self) -> NodeProfile:
        return NodeProfile(
            architecture="wasm32-wasi",
            labels={"wasmlet.io/provider": "scripted"},
            taints=(Taint("wasmlet.io/scripted", "true", "NoSchedule"),),
            capacity={"example.com/widgets": "3"},
            runtime_version="scripted://1.0",
        )

    async def start(self, context: ProviderContext) -> None:
        self.context = context

    async def create_pod(self, pod: KubeObject) -> None:
        key = key_of(pod)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.calls.append(("create", key, pod["metadata"]["uid"]))
        fail = (pod["metadata"].get("annotations") or {}).get(FAIL, "")
        try:
            if fail == "invalid":
                raise InvalidPodSpec("this provider cannot run images named like that")
            if fail.startswith("transient-") and self.attempts[key] <= int(fail.split("-")[1]):
                raise ProviderError("the runtime is busy", reason="RuntimeBusy")
            if fail == "crash":
                raise RuntimeError("provider bug")
            self.pods[key] = pod
            if self.auto_run:
                self.run(key)
        finally:
            await self._bump()

    async def update_pod(self, pod: KubeObject) -> None:
        key = key_of(pod)
        self.calls.append(("update", key, dict(pod["metadata"].get("labels") or {})))
        self.pods[key] = pod
        await self._bump()

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        key = key_of(pod)
        self.calls.append(("delete", key, grace_period_seconds))
        held = self.pods.pop(key, None)
        if held is not None and self.context is not None:
            self.context.notify_pod_status(
                held,
                {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "image": c["image"],
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                        }
                        for c in held["spec"]["containers"]
                    ],
                },
            )
        self.statuses.pop(key, None)
        await self._bump()

    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        return self.statuses.get(key_of(pod))

    async def list_pods(self) -> list[PodKey]:
        return [
            PodKey(
                p["metadata"].get("namespace") or "default",
                p["metadata"]["name"],
                p["metadata"].get("uid", ""),
            )
            for p in self.pods.values()
        ]

    async def shutdown(self) -> None:
        self.shut_down = True
        await self._bump()
