"""docs/wasi.md's walkthrough, run exactly as written: a module and a component, side by side.

The blocks marked ``<!-- walkthrough: STEP KIND [FILE] -->`` (STEP: source,
build, push, pod, run; KIND: module or component) are the commands a
reader types.  This test runs each in a directory of its own, as that
reader would (the component's in a copy of testdata/components), with
bash; the push script is the document's ``push_wasm.py`` block.  The
only change is the registry: the test's docker-registry on 127.0.0.1 stands
in for the document's ``127.0.0.1:5000``.  What ``kubectl logs`` prints must
contain what the block's comment says (parts separated by " … ").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Wasmlet
from tests.fixtures.registry import RegistryProcess
from wasmlet_wasi.engine import is_component

pytestmark = [
    pytest.mark.needs_clang,
    pytest.mark.needs_registry,
    pytest.mark.needs_kubectl,
    pytest.mark.slow,
]

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "wasi.md"
DOC_REGISTRY = "127.0.0.1:5000"
_MARKER = re.compile(r"^<!--\s*walkthrough:\s*(\w+)\s+(module|component)(?:\s+(\S+))?\s*-->$")
_PUSH_SCRIPT = "<!-- snippet: import push_wasm.py -->"


def blocks(doc: Path) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(step, kind) -> (file name or None, the block's text), for every marked block."""
    lines = doc.read_text().splitlines()
    found: dict[tuple[str, str], tuple[str | None, str]] = {}
    for index, line in enumerate(lines):
        marker = _MARKER.match(line.strip())
        if marker is None:
            continue
        step, kind, name = marker.groups()
        assert (step, kind) not in found, f"two walkthrough blocks for {step} {kind}"
        found[step, kind] = (name, _fenced_after(lines, index))
    return found


def push_script(doc: Path) -> str:
    lines = doc.read_text().splitlines()
    return _fenced_after(lines, lines.index(_PUSH_SCRIPT))


def _fenced_after(lines: list[str], index: int) -> str:
    fence = lines[index + 1]
    assert fence.startswith("```"), f"{DOC.name}:{index + 1}: a marker must precede a block"
    end = lines.index("```", index + 2)
    return "".join(line + "\n" for line in lines[index + 2 : end])


def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script}\nfailed ({done.returncode}):\n{output}"
    return done.stdout


def expected_log_parts(run_block: str) -> list[str]:
    """What the block's ``kubectl logs NAME  # ...`` comment says the log contains."""
    for line in run_block.splitlines():
        if line.startswith("kubectl logs") and "#" in line:
            return [part.strip() for part in line.split("#", 1)[1].split("…")]
    raise AssertionError(f"no commented kubectl logs line in:\n{run_block}")


def test_the_walkthrough_builds_pushes_and_runs_a_module_and_a_component(
    wasmlet: Wasmlet, registry: RegistryProcess, tmp_path: Path
) -> None:
    steps = blocks(DOC)
    for kind in ("module", "component"):
        for step in ("build", "push", "pod", "run"):
            assert (step, kind) in steps, f"docs/wasi.md has no {step} step for a {kind}"
    env = {
        **os.environ,
        # `python` and `wasm-tools` as the reader's virtualenv has them
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(wasmlet.kubeconfig),
        "HOME": str(tmp_path / "home"),
    }
    work = {"module": tmp_path / "module", "component": tmp_path / "component"}
    work["module"].mkdir()
    shutil.copytree(REPO / "testdata" / "components" / "src", work["component"] / "src")
    shutil.copytree(REPO / "testdata" / "components" / "wit", work["component"] / "wit")
    name, source = steps["source", "module"]
    assert name is not None
    (work["module"] / name).write_text(source)
    for kind, directory in work.items():
        (directory / "push_wasm.py").write_text(push_script(DOC))
        bash(steps["build", kind][1], directory, env)
        bash(steps["push", kind][1].replace(DOC_REGISTRY, registry.host), directory, env)
        manifest_name, manifest = steps["pod", kind]
        assert manifest_name is not None
        (directory / manifest_name).write_text(manifest.replace(DOC_REGISTRY, registry.host))

    greet, hello = work["module"] / "greet.wasm", work["component"] / "hello.wasm"
    assert not is_component(greet.read_bytes())
    assert is_component(hello.read_bytes())
    committed = REPO / "testdata" / "components" / "hello.wasm"
    assert hello.read_bytes() == committed.read_bytes(), "the doc's flags are not the Makefile's"

    for kind, directory in work.items():
        run = steps["run", kind][1]
        printed = bash(run, directory, env)
        for part in expected_log_parts(run):
            assert part in printed, f"{kind}: {part!r} not in kubectl's output:\n{printed}"
