"""pytest plugin: fixtures for testing providers end to end (opt-in).

Nothing is registered by installing kubelet-core; a test suite enables the
plugin in its ``conftest.py``::

    pytest_plugins = ["kubelet_core.testing.plugin"]

It then has two fixtures:

* ``cluster`` -- a :class:`~kubelet_core.testing.ClusterHarness`: an embedded
  control plane on a free loopback port, with an API client;
* ``run_node`` -- ``async with run_node(MyProvider()) as node:`` starts a node
  agent for a provider against ``cluster``.

The fixtures need pytest-asyncio and work in its default strict mode as well
as with ``asyncio_mode = auto``: ``cluster`` is a ``pytest_asyncio.fixture``
and ``run_node`` is synchronous.  In strict mode the test functions using
them need ``@pytest.mark.asyncio``.  Heavy imports happen inside the
fixtures, so enabling the plugin costs a test run nothing until they are used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:
    import pytest_asyncio
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kubelet_core.testing.plugin needs pytest-asyncio (pip install pytest-asyncio)"
    ) from error

if TYPE_CHECKING:
    from kubelet_core.testing._harness import ClusterHarness


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[ClusterHarness]:
    """An embedded control plane (state under ``tmp_path``) and a client to it."""
    from kubelet_core.testing._harness import ClusterHarness

    async with ClusterHarness.start(tmp_path) as harness:
        yield harness


@pytest.fixture
def run_node(cluster: ClusterHarness) -> Callable[..., AbstractAsyncContextManager[Any]]:
    """``cluster.node``: ``async with run_node(provider, "n1") as agent: ...``."""
    return cluster.node
