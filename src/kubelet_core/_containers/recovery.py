"""A container's run from before an agent restart: adopted, or reported as it ended.

A pod re-created on the node while its runs are on disk (the agent
restarted) continues after them: its supervisor looks up the last run
first, before starting anything.

* With a runtime whose containers outlive the agent
  (``ContainerRuntime.survives_agent_restart``), the runtime's
  ``recover_container`` finds it: one still running is adopted (waited on,
  not started again), one that ended meanwhile is reported terminated as it
  ended, and the restart policy decides -- under ``restartPolicy: Never`` a
  container is never run twice.
* With a runtime that lives inside the agent, the run ended when the agent
  did.  Its state is unknown, as kubelet reports a container it cannot find
  (``ContainerStatusUnknown``, exit code 137: :data:`LOST_WITH_AGENT`); the
  restart policy then decides, and a restart comes at once (the agent
  stopped, not the container).  An init container is known to have
  succeeded when an app container had started after it.
"""

from __future__ import annotations

import dataclasses

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.runtime import ExitStatus, RecoveredContainer
from kubelet_core._containers.status import ContainerRecord

#: A run that died with the agent (the runtime lived inside it).
LOST_WITH_AGENT = ExitStatus(
    137,
    "ContainerStatusUnknown",
    "The container could not be located when the agent restarted: it ran "
    "inside the agent, which stopped",
)
#: A run the runtime found ended, without saying how.
UNKNOWN = ExitStatus(137, "ContainerStatusUnknown", "")


@dataclasses.dataclass(frozen=True)
class PreviousRun:
    """The last run of a container found on disk when its pod was created."""

    restart: int
    #: An app container of the pod had run: its init containers had all succeeded.
    apps_ran: bool


def previous_run(record: ContainerRecord, *, apps_ran: bool) -> PreviousRun | None:
    """The run to look up first, if the container ran before (``record`` continues after it)."""
    if not record.restart_count:
        return None
    return PreviousRun(record.restart_count - 1, apps_ran)


async def look_up(
    scope: PodScope, record: ContainerRecord, previous: PreviousRun
) -> RecoveredContainer | None:
    """The run as the runtime knows it now (``exit`` set unless it runs); None: start anew."""
    if not scope.runtime.survives_agent_restart:
        if record.is_init and not record.sidecar and previous.apps_ran:
            return RecoveredContainer(started_at="", exit=ExitStatus(0, "Completed"))
        return RecoveredContainer(started_at="", exit=LOST_WITH_AGENT)
    try:
        found = await scope.runtime.recover_container(scope.pod, record.name, previous.restart)
    except Exception as exc:
        scope.log.warning("cannot recover container", container=record.name, error=repr(exc))
        return None
    if found is None or found.running is not None:
        return found
    return dataclasses.replace(
        found, exit=found.exit or UNKNOWN, finished_at=found.finished_at or rfc3339()
    )
