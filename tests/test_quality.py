"""The code-quality gates run with the suite, so they cannot rot between sessions.

The layer contracts (import-linter: the core never imports a provider, the
node side never imports the control plane), ruff, and mypy --strict.  The
tools come with the test extra; a missing one fails in CI.
"""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.components import require

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    path = Path(sysconfig.get_path("scripts")) / name
    return require(str(path) if path.exists() else None, f"{name} (test extra)")


def run(*command: str) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


def test_import_layers_hold() -> None:
    run(tool("lint-imports"))


def test_ruff_is_clean() -> None:
    run(tool("ruff"), "check", "src", "tests", "benchmarks")
    run(tool("ruff"), "format", "--check", "src", "tests", "benchmarks")


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    run(tool("mypy"))


def test_no_wait_for_in_the_source() -> None:
    """``asyncio.wait_for`` can lose a cancellation on 3.11 (see kubelet_core._lifecycle)."""
    offenders = [
        f"{path}:{number}"
        for path in sorted((REPO / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "asyncio.wait_for(" in line
    ]
    assert not offenders, offenders
