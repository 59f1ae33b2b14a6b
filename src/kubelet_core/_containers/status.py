"""Container and pod status bookkeeping, in the exact shape of the Kubernetes API.

One :class:`ContainerRecord` per container of a pod holds what kubelet
reports in ``containerStatuses`` / ``initContainerStatuses``: the current
state (``waiting`` / ``running`` / ``terminated``), the previous termination
(``lastState``), ``restartCount``, ``ready``, ``started`` and the image.  The
pod runner mutates records as containers move; :func:`pod_phase` derives the
pod phase from them with kubelet's rules, so the phase is never stored
separately and cannot drift from the container states.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kubelet_core._containers.runtime import ExitStatus, ImageRef
from kubelet_core._provider.base import KubeObject

#: Waiting reasons kubelet uses (and so do we).
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
CRASH_LOOP_BACKOFF = "CrashLoopBackOff"
CONFIG_ERROR = "CreateContainerConfigError"


def waiting(reason: str, message: str = "") -> KubeObject:
    body: KubeObject = {"reason": reason}
    if message:
        body["message"] = message
    return {"waiting": body}


@dataclasses.dataclass
class ContainerRecord:
    """The reported status of one container (mutable; owned by one pod runner)."""

    name: str
    image: str
    is_init: bool
    state: KubeObject
    last_state: KubeObject = dataclasses.field(default_factory=dict)
    restart_count: int = 0
    image_ref: ImageRef | None = None
    container_id: str = ""
    #: An init container with ``restartPolicy: Always``: runs beside the app containers.
    sidecar: bool = False

    def set_running(self, started_at: str) -> None:
        if "terminated" in self.state:  # restarted without waiting first
            self.last_state = self.state
        self.state = {"running": {"startedAt": started_at}}

    def set_terminated(self, exit_status: ExitStatus, started_at: str, finished_at: str) -> None:
        body: KubeObject = {
            "exitCode": exit_status.exit_code,
            "reason": exit_status.effective_reason,
            "startedAt": started_at or None,  # null when unknown, as kubelet reports it
            "finishedAt": finished_at or None,
        }
        if exit_status.message:
            body["message"] = exit_status.message
        if exit_status.signal is not None:
            body["signal"] = exit_status.signal
        if self.container_id:
            body["containerID"] = self.container_id
        self.state = {"terminated": body}

    def set_waiting(self, reason: str, message: str = "") -> None:
        """Enter a waiting state; a terminated state moves to ``lastState``, as kubelet does."""
        if "terminated" in self.state:
            self.last_state = self.state
        self.state = waiting(reason, message)

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def exit_code(self) -> int | None:
        terminated = self.state.get("terminated")
        return None if terminated is None else int(terminated["exitCode"])

    @property
    def last_exit_code(self) -> int | None:
        terminated = self.last_state.get("terminated")
        return None if terminated is None else int(terminated["exitCode"])

    def to_json(self) -> KubeObject:
        ready = self.running if self.sidecar or not self.is_init else self.exit_code == 0
        data: KubeObject = {
            "name": self.name,
            "state": _copy_state(self.state),
            "lastState": _copy_state(self.last_state),
            "ready": ready,
            "restartCount": self.restart_count,
            "image": self.image_ref.reference if self.image_ref else self.image,
            "imageID": self.image_ref.image_id if self.image_ref else "",
            "started": self.running,
        }
        if self.container_id:
            data["containerID"] = self.container_id
        return data


def _copy_state(state: KubeObject) -> KubeObject:
    """States are two levels deep; copying them is enough to hand out a status safely."""
    return {kind: dict(body) for kind, body in state.items()}


def pod_phase(
    restart_policy: str,
    init: Sequence[ContainerRecord],
    app: Sequence[ContainerRecord],
    *,
    stopping: bool = False,
) -> str:
    """The pod phase, by kubelet's rules (``getPhase``).

    Pending while an init container has not succeeded (Failed if one failed
    and ``restartPolicy`` is Never) or an app container waits for its first
    start; Running while any app container runs or will restart; otherwise
    Succeeded when every app container exited 0, else Failed.  Sidecars (init
    containers with ``restartPolicy: Always``) do not count.  ``stopping``
    (the pod is being deleted or killed) means nothing restarts any more.
    """
    for record in init:
        if record.exit_code == 0 or record.sidecar:
            continue  # until sidecars start, the app containers wait: still Pending
        failed = (record.exit_code is not None and record.exit_code != 0) or (
            record.last_exit_code not in (None, 0)
        )
        if failed and (restart_policy == "Never" or stopping):
            return "Failed"
        return "Failed" if stopping else "Pending"
    running = waiting_count = stopped = succeeded = 0
    for record in app:
        if record.running:
            running += 1
        elif record.exit_code is not None:
            stopped += 1
            succeeded += record.exit_code == 0
        elif record.last_state.get("terminated") is not None:
            stopped += 1
        else:
            waiting_count += 1
    if stopping:
        return "Succeeded" if app and succeeded == len(app) else "Failed"
    if waiting_count:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"
