"""One lifecycle for every long-running part, and the one signal handler.

``controllers``: the :class:`Controller` shape (``run(stopping)``, ``ready``,
errors propagate) and the :class:`Supervisor` that runs a set of them as one
unit.  ``signals``: SIGTERM/SIGINT turned into a graceful stop, then a hard
one.  Both are used by the agent, the CLI and the control plane's command.
"""

from kubelet_core._lifecycle.controllers import (
    Controller,
    ControllerFailed,
    LoopController,
    ServiceController,
    Supervisor,
)
from kubelet_core._lifecycle.signals import SIGNALS, ShutdownSignals

__all__ = [
    "SIGNALS",
    "Controller",
    "ControllerFailed",
    "LoopController",
    "ServiceController",
    "ShutdownSignals",
    "Supervisor",
]
