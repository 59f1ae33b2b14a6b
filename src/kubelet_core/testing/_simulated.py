"""A provider that runs nothing: pods are Running the moment they are created.

kwok's idea, as a provider: for simulating many nodes (``wasmlet node
--provider sim --nodes 1000``), testing schedulers and controllers against
real-looking nodes, and measuring what the node side itself costs.  Each
container reports running, started and ready; a pod whose
``restartPolicy`` is ``Never`` or ``OnFailure`` may ask to finish with the
annotation ``sim.wasmlet.dev/exit-code`` (its containers then terminate with
that code, and the pod Succeeds or Fails).  Deletion stops nothing and takes no time.
"""

from __future__ import annotations

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._provider.base import (
    KubeObject,
    NodeProfile,
    PodKey,
    Provider,
    ProviderContext,
    Taint,
)

EXIT_CODE = "sim.wasmlet.dev/exit-code"
SIMULATED = "wasmlet.dev/simulated"


def _exit_code(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _key(pod: KubeObject) -> PodKey:
    metadata = pod.get("metadata") or {}
    return PodKey(str(metadata.get("namespace") or "default"), str(metadata.get("name")))


class SimulatedProvider(Provider):
    """Pods without workloads, for many simulated nodes (the ``sim`` provider)."""

    name = "sim"

    def __init__(self) -> None:
        self._statuses: dict[PodKey, KubeObject] = {}
        self._context: ProviderContext | None = None

    def node_profile(self) -> NodeProfile:
        # Tainted, as kwok's nodes are: only pods that ask (a toleration, the
        # wasmlet-sim RuntimeClass, or a nodeName) land on a node that runs nothing.
        return NodeProfile(
            architecture="amd64",
            labels={SIMULATED: "true"},
            taints=(Taint(SIMULATED, "true", "NoSchedule"),),
            runtime_handlers=("wasmlet-sim",),
        )

    async def start(self, context: ProviderContext) -> None:
        self._context = context

    async def create_pod(self, pod: KubeObject) -> None:
        key = _key(pod)
        spec = pod.get("spec") or {}
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        started = rfc3339()
        exit_code = _exit_code(annotations.get(EXIT_CODE))
        finishes = exit_code is not None and spec.get("restartPolicy") in ("Never", "OnFailure")
        statuses = []
        for container in spec.get("containers") or []:
            state: KubeObject
            if finishes and exit_code is not None:
                state = {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Completed" if exit_code == 0 else "Error",
                        "startedAt": started,
                        "finishedAt": started,
                    }
                }
            else:
                state = {"running": {"startedAt": started}}
            statuses.append(
                {
                    "name": container.get("name"),
                    "image": container.get("image"),
                    "imageID": "sim://" + str(container.get("image")),
                    "containerID": f"sim://{key.namespace}/{key.name}/{container.get('name')}",
                    "ready": not finishes,
                    "started": not finishes,
                    "restartCount": 0,
                    "state": state,
                }
            )
        phase = "Running"
        if finishes:
            phase = "Succeeded" if exit_code == 0 else "Failed"
        status: KubeObject = {"phase": phase, "containerStatuses": statuses}
        self._statuses[key] = status
        if self._context is not None:
            self._context.notify_pod_status(pod, status)

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        self._statuses.pop(_key(pod), None)

    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        return self._statuses.get(_key(pod))

    async def list_pods(self) -> list[PodKey]:
        return list(self._statuses)
