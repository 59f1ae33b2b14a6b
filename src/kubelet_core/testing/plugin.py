"""pytest plugin (entry point ``pytest11``): fixtures for testing providers end to end.

Installed with kubelet-core; fixtures are available in any test suite:

* ``cluster`` -- a :class:`~kubelet_core.testing.ClusterHarness`: an embedded
  control plane on a free loopback port, with an API client;
* ``run_node`` -- ``async with run_node(MyProvider()) as node:`` starts a node
  agent for a provider against ``cluster``.

The fixtures are async and need pytest-asyncio.  Heavy imports happen inside
the fixtures, so merely having kubelet-core installed costs a test run nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kubelet_core.testing.harness import ClusterHarness

try:
    import pytest_asyncio

    HAVE_PYTEST_ASYNCIO = True
except ImportError:  # pragma: no cover - the fixtures are simply unavailable
    HAVE_PYTEST_ASYNCIO = False

if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def cluster(tmp_path: Path) -> AsyncIterator[ClusterHarness]:
        from kubelet_core.testing.harness import ClusterHarness

        async with ClusterHarness.start(tmp_path) as harness:
            yield harness

    @pytest.fixture
    def run_node(cluster: ClusterHarness) -> Callable[..., AbstractAsyncContextManager[Any]]:
        return cluster.node
