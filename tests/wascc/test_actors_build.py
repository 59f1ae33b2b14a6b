"""The committed test actors are what their C sources build to (catches drift)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.components import clang_path, require
from tests.wascc.conftest import ACTOR_NAMES, ACTORS_DIR, actor_bytes
from wasmlet_wascc import sections


@pytest.mark.needs_clang
def test_rebuilt_actors_match_the_committed_ones(tmp_path: Path) -> None:
    clang = require(clang_path(), "clang-14 with the wasm32 target")
    require(shutil.which("wasm-ld-14") or shutil.which("wasm-ld"), "lld-14 (wasm-ld)")
    require(shutil.which("make"), "make")
    subprocess.run(
        ["make", "-C", str(ACTORS_DIR), f"OUT={tmp_path}", f"CLANG={clang}", "all"],
        check=True,
        capture_output=True,
    )
    for name in ACTOR_NAMES:
        committed = sections.strip_custom_sections(actor_bytes(name), sections.JWT_SECTION)
        assert (tmp_path / f"{name}.wasm").read_bytes() == committed, name


def test_committed_actors_carry_exactly_one_claims_section() -> None:
    for name in ACTOR_NAMES:
        names = [s.name for s in sections.sections(actor_bytes(name))]
        assert names.count("jwt") == 1 and names[-1] == "jwt", name
