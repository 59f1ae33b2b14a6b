"""What the cluster sees of one pod: its status, derived; its events; both pushed.

Providers push statuses (``ProviderContext.notify_pod_status``) instead of
being polled, so an idle node makes no API calls for its pods.  Every part of
a pod's runner calls :meth:`PodStatusView.notify` after changing something;
the view then builds the status from the two sources of truth -- the
containers' records (mutated by their supervisors) and the runner's state
(:mod:`.podstate`: a pod-level failure, whether everything was stopped) --
and pushes it only if it differs from the last one pushed.  Nothing here is
stored twice, so the status cannot drift from what happened.

At agent shutdown the view is muted: the pods live on in the cluster, and a
stopping agent must not report them ended.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.status import ContainerRecord, pod_phase
from kubelet_core._provider.base import EventType, KubeObject


class PodStatusView:
    """Builds and pushes one pod's status; records its events (see module docstring)."""

    def __init__(
        self,
        scope: PodScope,
        init_records: Sequence[ContainerRecord],
        app_records: Sequence[ContainerRecord],
    ) -> None:
        self.scope = scope
        self.init_records = init_records
        self.app_records = app_records
        self._last: KubeObject | None = None
        self._muted = False

    @property
    def records(self) -> list[ContainerRecord]:
        return [*self.init_records, *self.app_records]

    def phase(self) -> str:
        state = self.scope.state
        if state.failure is not None:
            return "Failed"
        return pod_phase(
            self.scope.restart_policy, self.init_records, self.app_records, stopping=state.all_down
        )

    @property
    def finished(self) -> bool:
        return self.phase() in ("Succeeded", "Failed")

    def build(self) -> KubeObject:
        """The pod's ``status`` as the provider reports it (a fresh object every call)."""
        status: KubeObject = {
            "phase": self.phase(),
            "containerStatuses": [record.to_json() for record in self.app_records],
        }
        if self.init_records:
            status["initContainerStatuses"] = [record.to_json() for record in self.init_records]
        failure = self.scope.state.failure
        if failure is not None:
            status["reason"] = failure.reason
            status["message"] = failure.message or ""
        return status

    def mute(self) -> None:
        """Report nothing more (agent shutdown: the pods live on in the cluster)."""
        self._muted = True

    def notify(self) -> None:
        """Push the status if it changed since the last push."""
        if self._muted:
            return
        status = self.build()
        if status == self._last:
            return
        self._last = status
        try:
            # A second build, not the one we compare to: the receiver may keep or extend it
            # (the status writer adds hostIP and conditions).  Building is ~6 us for three
            # containers, a deepcopy five times that.
            self.scope.context.notify_pod_status(self.scope.pod, self.build())
        except Exception:
            self.scope.log.exception("notify_pod_status failed")

    def event(self, event_type: EventType, reason: str, message: str) -> None:
        if self._muted:
            return
        try:
            self.scope.context.record_event(self.scope.pod, event_type, reason, message)
        except Exception:
            self.scope.log.exception("record_event failed", reason=reason)
