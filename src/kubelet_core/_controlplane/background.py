"""The one lifecycle of the control plane's own controllers: a task from start() to stop().

kube-controller-manager runs each controller as a goroutine until shutdown; here
each is an asyncio task.  Subclasses implement ``_run`` (usually: wait for work
their store listener queued, reconcile it) and call :meth:`_launch` from their
``start``.  A controller that crashes is logged with its traceback rather than
vanishing silently; :meth:`stop` cancels and awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class BackgroundController:
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def _launch(self, name: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._guarded(name), name=name)

    async def _guarded(self, name: str) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control-plane controller %s crashed", name)
            raise

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
