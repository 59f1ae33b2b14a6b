"""Turning a container's spec into a :class:`ContainerLaunch`: env, mounts, command, identity.

Everything a runtime needs is resolved here, so a runtime never reads the
pod spec for Kubernetes semantics: env (``valueFrom`` looked up, ``$(VAR)``
expanded) by :class:`~kubelet_core._containers.env.EnvResolver`, the
container's mounts of the pod volumes, the log file of this run, the
``containerID``, limits, the CPU budget left by ``activeDeadlineSeconds``
and the user to run as.  A spec that cannot be resolved yet (a missing
ConfigMap key, a bad ``subPath``) is kubelet's ``CreateContainerConfigError``:
the container waits in it, with a Failed event, and the resolution is
retried with back-off -- a created ConfigMap is then picked up.
"""

from __future__ import annotations

import asyncio

from kubelet_core._containers.backoff import Backoff
from kubelet_core._containers.env import EnvResolver, expand_all
from kubelet_core._containers.identity import identity_for
from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.runtime import ContainerLaunch, ImageRef
from kubelet_core._containers.status import CONFIG_ERROR, ContainerRecord
from kubelet_core._containers.statusview import PodStatusView
from kubelet_core._provider.errors import ContainerConfigError
from kubelet_core._volumes.sources import VolumeHost


class LaunchBuilder:
    """Builds the launches of one pod's containers (one env resolver per pod)."""

    def __init__(
        self, scope: PodScope, view: PodStatusView, volume_host: VolumeHost | None
    ) -> None:
        self.scope = scope
        self.view = view
        context = scope.context
        self.env = EnvResolver(
            context.node_name,
            context.node_ip,
            scope.volumes.objects,
            record_event=lambda _pod, kind, reason, message: view.event(kind, reason, message),
            allocatable=volume_host.allocatable if volume_host is not None else None,
        )

    async def build(self, record: ContainerRecord, image: ImageRef) -> ContainerLaunch:
        """The launch of ``record``'s next run; waits in CreateContainerConfigError until it can."""
        scope = self.scope
        container = scope.container_spec(record)
        backoff = Backoff(scope.timings.config_retry)
        while True:
            error: ContainerConfigError
            try:
                env = await self.env.resolve(scope.pod, container)
                env_map = dict(env)
                mounts = scope.volumes.mounts_for(container, env_map)
                command = expand_all(container.get("command") or [], env_map)
                args = expand_all(container.get("args") or [], env_map)
                break
            except asyncio.CancelledError:
                raise
            except ContainerConfigError as exc:
                error = exc
            except Exception as exc:
                error = ContainerConfigError(f"{type(exc).__name__}: {exc}")
            record.set_waiting(CONFIG_ERROR, error.message)
            self.view.event("Warning", "Failed", f"Error: {error.message}")
            self.view.notify()
            await asyncio.sleep(backoff.next_delay())
        restart = record.restart_count
        log_path = scope.logs.allocate(scope.pod, record.name, restart)
        record.container_id = scope.container_id(record.name, restart)
        limits = (container.get("resources") or {}).get("limits") or {}
        return ContainerLaunch(
            pod=scope.pod,
            container=container,
            image=image,
            command=command,
            args=args,
            env=env,
            mounts=mounts,
            working_dir=container.get("workingDir") or None,
            log_path=log_path,
            restart_count=restart,
            limits={str(k): str(v) for k, v in limits.items()},
            deadline_seconds=scope.deadline.left(),
            identity=identity_for(scope.pod, container, scope.context.default_run_as_user),
        )
