"""One lifecycle for every long-running part, and the one signal handler.

``controllers``: the :class:`Controller` shape (``run(stopping)``, ``ready``,
errors propagate) and the :class:`Supervisor` that runs a set of them as one
unit.  ``signals``: SIGTERM/SIGINT turned into a graceful stop, then a hard
one.  Both are used by the agent, the CLI and the control plane's command.

Waiting with a time limit is ``async with asyncio.timeout(t)`` everywhere,
never ``asyncio.wait_for``: on Python 3.11 ``wait_for`` returns the awaited
result when a cancellation arrives in the same loop iteration as that result
(CPython gh-86296), so a stopping task that was waiting on an event set at
that moment carries on, and whoever cancelled it and awaits it waits forever
(a controller's stop hung that way under load).  ``asyncio.timeout`` counts
cancellations and re-raises them.  A test in tests/test_quality.py keeps
``wait_for`` out of the source.
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
