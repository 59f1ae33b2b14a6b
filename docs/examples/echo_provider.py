"""A complete provider in a few lines: it "runs" a pod by echoing its args to the log.

Used by docs/writing-a-provider.md and tested by tests/docs/test_echo_provider.py.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

from kubelet_core import LogOptions, NodeProfile, NotFound, PodKey, Provider, ProviderContext
from kubelet_core._provider import KubeObject


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EchoProvider(Provider):
    name = "echo"

    def __init__(self) -> None:
        self.pods: dict[str, KubeObject] = {}
        self.logs: dict[str, bytes] = {}

    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch("echo")

    async def start(self, context: ProviderContext) -> None:
        self.context = context

    async def create_pod(self, pod: KubeObject) -> None:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        container = pod["spec"]["containers"][0]
        self.logs[key] = (" ".join(container.get("args", [])) + "\n").encode()
        self.pods[key] = {
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": container["name"], "image": container["image"], "imageID": "",
                "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                         "startedAt": now(), "finishedAt": now()}},
            }],
        }
        self.context.notify_pod_status(pod, self.pods[key])

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        self.pods.pop(key, None)
        self.logs.pop(key, None)

    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        return self.pods.get(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")

    async def list_pods(self) -> list[PodKey]:
        return [PodKey(*key.split("/", 1)) for key in self.pods]

    async def container_logs(
        self, namespace: str, pod_name: str, container: str, options: LogOptions
    ) -> AsyncIterator[bytes]:
        key = f"{namespace}/{pod_name}"
        if key not in self.logs:
            raise NotFound(f"no pod {key}")
        yield self.logs[key]
