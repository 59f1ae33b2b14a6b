"""Every Python block of README.md and docs/*.md works as written (markers: tests/docs/snippets.py).

``import`` blocks are imported in a fresh interpreter, ``run`` blocks run as
programs against a real embedded control plane, ``pytest`` blocks run under
pytest in a project of their own, in strict asyncio mode (pytest-asyncio's
default, which proves they need no ``asyncio_mode = auto``) and in auto mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from kubelet_core._provider import KubeObject
from kubelet_core.testing import ClusterHarness, pod_manifest
from tests.docs.snippets import (
    CHECK_IMPORT,
    HOW,
    KINDS,
    Snippet,
    collect,
    count_tests,
    parse,
    run_pytest,
    user_env,
    write_project,
)

SNIPPETS, PROBLEMS = collect()
#: How long a ``run`` block may take, from start to exit (a node: ready, a pod, SIGTERM).
RUN_TIMEOUT = 90.0


def of_kind(kind: str) -> Any:
    return pytest.mark.parametrize(
        "snippet",
        [snippet for snippet in SNIPPETS if snippet.kind == kind],
        ids=lambda snippet: snippet.id,
    )


def test_every_python_block_is_marked() -> None:
    assert not PROBLEMS, "\n".join([*PROBLEMS, HOW])
    assert {snippet.kind for snippet in SNIPPETS} == set(KINDS)  # the parser does find them


def test_unmarked_and_mismarked_blocks_are_found(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        "<!-- snippet: import a.py -->\n```python\nA = 1\n```\n"
        "```python\nprint('unmarked')\n```\n"
        "<!-- snippet: import -->\n```sh\necho not python\n```\n"
        "<!-- snippet: execute -->\n```python\npass\n```\n"
        "<!-- snippet: run node=n1 color=red -->\n```py\npass\n```\n"
        "<!-- snippet: pytest -->\nsome prose\n```python\npass\n```\n"
        "````markdown\n<!-- snippet: import -->\n```python\nnested = 1\n```\n````\n"
        "<!-- snippet: import a.py -->\n\n```python\nA = 2\n```\n"
        "<!-- snippet: run -->\n"
    )
    snippets, problems = parse(doc)
    assert [(s.line, s.kind, s.file, s.code) for s in snippets] == [
        (2, "import", "a.py", "A = 1\n"),
        (33, "import", "a.py", "A = 2\n"),
    ]
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "python block without a snippet marker",
        "snippet marker before a sh block",
        "unknown snippet kind 'execute'",
        "bad snippet marker 'run node=n1 color=red'",
        "marker not directly before a block",
        "python block without a snippet marker",
        "marker not followed by a block",
        "two blocks are saved as a.py",
    ]


@of_kind("import")
def test_import_block(snippet: Snippet, tmp_path: Path) -> None:
    project = write_project(snippet, tmp_path / "project")
    result = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORT, snippet.module],
        cwd=project, env=user_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"{snippet.id} does not import:\n{result.stderr}"


@pytest.mark.parametrize("asyncio_mode", ["strict", "auto"])
@of_kind("pytest")
def test_pytest_block(snippet: Snippet, asyncio_mode: str, tmp_path: Path) -> None:
    project = write_project(snippet, tmp_path / "project")
    result = run_pytest(project, snippet.file, asyncio_mode=asyncio_mode)
    output = result.stdout + result.stderr
    tests = count_tests(snippet.code)
    assert tests, f"{snippet.id}: a pytest block without tests"
    assert result.returncode == 0, f"{snippet.id} in {asyncio_mode} mode:\n{output}"
    assert re.search(rf"\b{tests} passed\b", output), output
    assert not re.search(r"\b(skipped|xfailed|xpassed|errors?)\b", output.split("passed")[-1])


@of_kind("run")
async def test_run_block(snippet: Snippet, tmp_path: Path) -> None:
    project = write_project(snippet, tmp_path / "project")
    output = tmp_path / "output.log"
    async with ClusterHarness.start(tmp_path / "cluster") as cluster:
        env = user_env(  # the library's defaults: a free kubelet port, ~/.wasmlet
            KUBECONFIG=str(cluster.controlplane.kubeconfig_path), HOME=str(tmp_path / "home")
        )
        with output.open("wb") as sink:
            program = await asyncio.create_subprocess_exec(
                sys.executable, snippet.file, cwd=project, env=env, stdout=sink, stderr=sink
            )
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                node = snippet.options.get("node")
                if node is not None:
                    await while_running(program, runs_a_pod(cluster, node), output)
                    program.send_signal(signal.SIGTERM)
                code = await program.wait()
        finally:
            if program.returncode is None:
                program.kill()
                await program.wait()
    assert code == 0, f"{snippet.id} exited {code}:\n{text_of(output)}"


def text_of(output: Path) -> str:
    return output.read_text(errors="replace")


async def while_running(
    program: asyncio.subprocess.Process, check: Coroutine[Any, Any, None], output: Path
) -> None:
    """Run ``check``; fail as soon as the program exits before it is done."""
    checking = asyncio.ensure_future(check)
    exited = asyncio.ensure_future(program.wait())
    try:
        await asyncio.wait({checking, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if not checking.done():
        checking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checking
        raise AssertionError(f"exited {program.returncode}:\n{text_of(output)}")
    checking.result()


async def runs_a_pod(cluster: ClusterHarness, node: str) -> None:
    """Node ``node`` becomes Ready and runs a pod to Succeeded."""

    def ready(obj: KubeObject) -> bool:
        conditions = obj.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    await cluster.wait_for_object("/api/v1/nodes", node, ready, timeout=RUN_TIMEOUT)
    await cluster.create_pod(pod_manifest("from-the-docs", args=["hello"]))
    pod = await cluster.wait_for_pod(
        "default", "from-the-docs", phase="Succeeded", timeout=RUN_TIMEOUT
    )
    assert pod["spec"]["nodeName"] == node
