"""Module-store tests use the real registry fixtures (also a plugin in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.registry import auth_registry, registry, token_registry

__all__ = ["auth_registry", "registry", "token_registry"]

WASM_DIR = Path(__file__).resolve().parents[2] / "testdata" / "wasm"


@pytest.fixture
def wasm_dir() -> Path:
    return WASM_DIR
