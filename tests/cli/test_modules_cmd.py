"""`wasmlet modules` as a user runs it: pull (from a real registry), import, ls, rm, gc."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.fixtures.registry import RegistryProcess

WASM = Path(__file__).resolve().parents[2] / "testdata" / "wasm"


def wasmlet(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubelet_core._cli.main", "modules", "--data-dir", str(data_dir),
         *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_pull_ls_rm_gc(tmp_path: Path, registry: RegistryProcess) -> None:
    digest = asyncio.run(registry.push(WASM / "hello.wasm", "cli/hello:v1"))
    reference = f"{registry.host}/cli/hello:v1"
    pulled = wasmlet(tmp_path, "pull", reference)
    assert pulled.returncode == 0, pulled.stderr
    assert f"pulled {reference}" in pulled.stdout
    listing = wasmlet(tmp_path, "ls")
    assert reference in listing.stdout
    assert digest.startswith("sha256:")
    assert wasmlet(tmp_path, "rm", reference).returncode == 0
    assert reference not in wasmlet(tmp_path, "ls").stdout
    gc = wasmlet(tmp_path, "gc")
    assert gc.returncode == 0 and "bytes remain" in gc.stdout


def test_clear_errors(tmp_path: Path, registry: RegistryProcess) -> None:
    missing = wasmlet(tmp_path, "pull", f"{registry.host}/cli/missing:nope")
    assert missing.returncode == 2
    assert missing.stderr.startswith("wasmlet: error: cannot pull")
    assert "Traceback" not in missing.stderr
    not_wasm = tmp_path / "text.wasm"
    not_wasm.write_text("not a module")
    imported = wasmlet(tmp_path, "import", str(not_wasm), "example.com/x:v1")
    assert imported.returncode == 2 and "not a wasm module" in imported.stderr
    assert wasmlet(tmp_path, "rm", "example.com/never:v1").returncode == 2
