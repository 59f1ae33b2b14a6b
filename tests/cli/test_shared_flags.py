"""A command's shared flags work before and after its action: ``wasmlet modules ls --data-dir D``.

Runs the installed ``wasmlet`` binary, as a user does.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.components import require

HELLO = Path(__file__).resolve().parents[2] / "testdata" / "wasm" / "hello.wasm"
REFERENCE = "example.com/shared-flags/hello:v1"

Wasmlet = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def wasmlet(tmp_path: Path) -> Wasmlet:
    binary = Path(sysconfig.get_path("scripts")) / "wasmlet"
    command = require(str(binary) if binary.exists() else None, "the wasmlet script")
    # A home of its own: nothing read from or written to the real ~/.wasmlet.
    env = {key: value for key, value in os.environ.items() if not key.startswith("WASMLET_")}
    env["HOME"] = str(tmp_path / "home")

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *map(str, args)], env=env, capture_output=True, text=True, timeout=60
        )

    return run


def test_before_or_after_the_action_is_the_same(wasmlet: Wasmlet, tmp_path: Path) -> None:
    store = tmp_path / "store"
    imported = wasmlet("modules", "import", HELLO, REFERENCE, "--data-dir", store)
    assert imported.returncode == 0, imported.stderr
    before = wasmlet("modules", "--data-dir", store, "ls")
    after = wasmlet("modules", "ls", "--data-dir", store)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert REFERENCE in before.stdout
    assert after.stdout == before.stdout
    assert not (tmp_path / "home" / ".wasmlet").exists()  # neither used the default
    removed = wasmlet("modules", "rm", REFERENCE, f"--data-dir={store}")
    assert removed.returncode == 0, removed.stderr
    assert REFERENCE not in wasmlet("modules", "--data-dir", store, "ls").stdout
    collected = wasmlet("modules", "gc", "--data-dir", store, "--budget", "1Mi")
    assert collected.returncode == 0 and "bytes remain" in collected.stdout, collected.stderr


def test_on_both_sides_the_one_after_the_action_wins(wasmlet: Wasmlet, tmp_path: Path) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    assert wasmlet("modules", "--data-dir", store, "import", HELLO, REFERENCE).returncode == 0
    listed = wasmlet("modules", "--data-dir", other, "ls", "--data-dir", store)
    assert listed.returncode == 0 and REFERENCE in listed.stdout, listed.stderr
    listed = wasmlet("modules", "--data-dir", store, "ls", "--data-dir", other)
    assert listed.returncode == 0 and REFERENCE not in listed.stdout, listed.stderr


def test_help_says_where_the_flags_go(wasmlet: Wasmlet) -> None:
    command = wasmlet("modules", "--help")
    assert command.returncode == 0
    assert "--data-dir may also come after ACTION" in command.stdout
    assert "the one after ACTION wins" in " ".join(command.stdout.split())
    action = wasmlet("modules", "ls", "--help")
    assert action.returncode == 0
    assert "--data-dir DATA_DIR" in action.stdout
    assert "also accepted before the action" in action.stdout
