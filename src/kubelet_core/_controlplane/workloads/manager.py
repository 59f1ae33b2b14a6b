"""WorkloadControllers: the workload controllers started and stopped as one part."""

from __future__ import annotations

from kubelet_core._controlplane.clock import Clock
from kubelet_core._controlplane.registry import Registry
from kubelet_core._controlplane.store import Store
from kubelet_core._controlplane.workloads.base import WorkloadController


class WorkloadControllers:
    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        from kubelet_core._controlplane.workloads.cronjob import CronJobController
        from kubelet_core._controlplane.workloads.daemonset import DaemonSetController
        from kubelet_core._controlplane.workloads.deployment import DeploymentController
        from kubelet_core._controlplane.workloads.job import JobController
        from kubelet_core._controlplane.workloads.replicaset import ReplicaSetController
        from kubelet_core._controlplane.workloads.ttl import TTLAfterFinishedController

        self.clock = clock
        self.controllers: list[WorkloadController] = [
            ReplicaSetController(store, registry, clock),
            DeploymentController(store, registry, clock),
            JobController(store, registry, clock),
            TTLAfterFinishedController(store, registry, clock),
            CronJobController(store, registry, clock),
            DaemonSetController(store, registry, clock),
        ]

    def start(self) -> None:
        for controller in self.controllers:
            controller.start()

    async def stop(self) -> None:
        for controller in reversed(self.controllers):
            await controller.stop()
