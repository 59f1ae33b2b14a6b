"""The pod side of the agent: watch, per-pod workers, reconcile, statuses, events."""

from kubelet_core._pods.admission import PodAdmission
from kubelet_core._pods.events import KubeEventRecorder
from kubelet_core._pods.status import PodStatusWriter, merge_status
from kubelet_core._pods.sync import PodSyncer
from kubelet_core._pods.watcher import PodWatcher
from kubelet_core._pods.workers import PodWorkers

__all__ = [
    "KubeEventRecorder",
    "PodAdmission",
    "PodStatusWriter",
    "PodSyncer",
    "PodWatcher",
    "PodWorkers",
    "merge_status",
]
