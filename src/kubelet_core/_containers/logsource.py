"""Which log file ``kubectl logs`` gets for a container of a running pod, and when follow ends.

The current run's file while it runs (``follow`` ends with the run), the run
before it with ``--previous``, and, for a container that never got to run,
kubelet's messages: "waiting to start" with the waiting reason, or the lines
a container refused at start left (the reason it was refused), as kubelet
serves a terminated container.  Pods this agent does not run are served from
disk by the provider (``ContainerProvider._log_on_disk``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubelet_core._containers.supervisor import ContainerSupervisor
from kubelet_core._provider.errors import NotFound


def log_source(
    supervisor: ContainerSupervisor, previous: bool
) -> tuple[Path, asyncio.Event | None]:
    """The file to serve for ``supervisor``'s container, and the event that ends ``follow``."""
    record, run = supervisor.record, supervisor.run
    name, pod = record.name, supervisor.scope.name
    if previous:
        path = supervisor.scope.log_path(name, (run.restart if run else 0) - 1)
        if run is None or run.restart < 1 or not path.exists():
            raise NotFound(f'previous terminated container "{name}" in pod "{pod}" not found')
        return path, None
    if run is not None:
        return run.log_path, run.ended
    path = supervisor.scope.log_path(name, record.restart_count)
    if "terminated" in record.state:
        if path.exists():
            return path, None
        reason = record.state["terminated"].get("reason", "")
        raise NotFound(f'container "{name}" in pod "{pod}" is terminated: {reason}')
    reason = record.state.get("waiting", {}).get("reason", "")
    raise NotFound(f'container "{name}" in pod "{pod}" is waiting to start: {reason}')
