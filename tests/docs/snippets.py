"""The Python blocks of the docs, found by their markers, and running them as a user would.

Each python block in README.md and docs/*.md is preceded by a marker saying
what the suite does with it (tests/docs/test_snippets.py)::

    <!-- snippet: import [FILE.py] -->
        imported in a fresh interpreter; every annotation must resolve
    <!-- snippet: run [FILE.py] [node=NAME] -->
        run as a program (``python FILE.py``) against an embedded control plane
        ($KUBECONFIG, WASMLET_DATA_DIR, WASMLET_PORT=0 set); with ``node=NAME``
        it is a node agent: Node NAME must become Ready and run a pod to
        Succeeded, then SIGTERM must stop it; it must exit 0 within the bound
    <!-- snippet: pytest [FILE.py] -->
        a test module, run by pytest (in a subprocess, ``-p no:cacheprovider``)
        once in strict asyncio mode and once in auto mode; its tests must pass

The blocks of one document are saved side by side under their names (a
block without one gets ``snippet_<line>.py``), with docs/examples/*.py, so a
block imports the modules shown before it, as a reader who saved them would.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
EXAMPLES = REPO / "docs" / "examples"

KINDS = ("import", "run", "pytest")
OPTIONS = {"import": set(), "run": {"node"}, "pytest": set()}
PYTHON_INFO = {"python", "py", "python3"}
HOW = (
    "mark every ```python block of the docs with one of (on the line before the fence): "
    "<!-- snippet: import [FILE.py] -->, <!-- snippet: run [FILE.py] [node=NAME] -->, "
    "<!-- snippet: pytest [FILE.py] --> (see tests/docs/snippets.py)"
)

_MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<spec>.*?)\s*-->$")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FILE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")


@dataclasses.dataclass(frozen=True)
class Snippet:
    doc: Path
    line: int  # of the opening fence, 1-based
    code: str
    kind: str
    file: str  # the name it is saved under
    options: Mapping[str, str]

    @property
    def id(self) -> str:
        return f"{_shown(self.doc)}:{self.line}"

    @property
    def module(self) -> str:
        return self.file.removesuffix(".py")


def _shown(doc: Path) -> str:
    return str(doc.relative_to(REPO)) if doc.is_relative_to(REPO) else str(doc)


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def parse(doc: Path) -> tuple[list[Snippet], list[str]]:
    """The marked python blocks of ``doc``, and what is wrong with its markers."""
    lines = doc.read_text().splitlines()
    snippets: list[Snippet] = []
    problems: list[str] = []
    pending: tuple[int, str] | None = None  # (line, spec) of a marker waiting for its block
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.match(line.strip())
        fence = _FENCE.match(line)
        if marker:
            if pending is not None:
                problems.append(f"{_shown(doc)}:{pending[0]}: marker not followed by a block")
            pending = (index + 1, marker["spec"])
        elif fence:
            end = index + 1
            while end < len(lines) and not _closes(lines[end], fence["fence"]):
                end += 1
            indent = len(fence["indent"])
            code = "".join(text[indent:] + "\n" for text in lines[index + 1 : end])
            words = fence["info"].split()
            info = words[0].lower() if words else ""
            where = f"{_shown(doc)}:{index + 1}"
            if info in PYTHON_INFO:
                if pending is None:
                    problems.append(f"{where}: python block without a snippet marker")
                else:
                    snippet = _snippet(doc, index + 1, code, pending[1], problems)
                    if snippet is not None:
                        snippets.append(snippet)
            elif pending is not None:
                problems.append(f"{where}: snippet marker before a {info or 'plain'} block")
            pending = None
            index = end
        elif line.strip() and pending is not None:
            problems.append(f"{_shown(doc)}:{pending[0]}: marker not directly before a block")
            pending = None
        index += 1
    if pending is not None:
        problems.append(f"{_shown(doc)}:{pending[0]}: marker not followed by a block")
    names = [snippet.file for snippet in snippets]
    problems += [
        f"{_shown(doc)}: two blocks are saved as {name}"
        for name in sorted({name for name in names if names.count(name) > 1})
    ]
    return snippets, problems


def _snippet(doc: Path, line: int, code: str, spec: str, problems: list[str]) -> Snippet | None:
    where = f"{_shown(doc)}:{line}"
    kind, *words = spec.split() or [""]
    if kind not in KINDS:
        problems.append(f"{where}: unknown snippet kind {kind!r}")
        return None
    files = [word for word in words if "=" not in word]
    options = dict(word.split("=", 1) for word in words if "=" in word)
    unknown = set(options) - OPTIONS[kind]
    if len(files) > 1 or any(not _FILE.match(name) for name in files) or unknown:
        problems.append(f"{where}: bad snippet marker {spec!r}")
        return None
    default = f"test_snippet_{line}.py" if kind == "pytest" else f"snippet_{line}.py"
    return Snippet(doc, line, code, kind, files[0] if files else default, options)


def collect(docs: Iterable[Path] = DOCS) -> tuple[list[Snippet], list[str]]:
    snippets: list[Snippet] = []
    problems: list[str] = []
    for doc in docs:
        found, wrong = parse(doc)
        snippets += found
        problems += wrong
    return snippets, problems


def write_project(snippet: Snippet, directory: Path) -> Path:
    """``directory`` with the examples and every block of ``snippet``'s document in it."""
    directory.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES.glob("*.py"):
        shutil.copy(example, directory / example.name)
    for block in parse(snippet.doc)[0]:
        (directory / block.file).write_text(block.code)
    return directory


def user_env(**extra: str) -> dict[str, str]:
    """This environment without what the suite or the machine set for a node or for pytest."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "WASMLET_", "KUBE"))
    }
    env.update(extra)
    return env


def count_tests(code: str) -> int:
    """How many top-level test functions a test module defines."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    body = ast.parse(code).body
    return sum(isinstance(node, functions) and node.name.startswith("test") for node in body)


def run_pytest(
    project: Path, *args: str, asyncio_mode: str = "strict", timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """pytest in ``project`` as its own root (a blank pytest.ini), as a user's suite runs.

    Its temporary directories stay in ``project``: in the shared base directory
    it would clean up numbered directories of other sessions.
    """
    (project / "pytest.ini").write_text("[pytest]\n")
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
        f"--basetemp={project / '.pytest-tmp'}", "-o", f"asyncio_mode={asyncio_mode}", *args,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=project, env=user_env(), capture_output=True, text=True, timeout=timeout
    )


#: Run in a fresh interpreter for ``import`` blocks: import the module, resolve its annotations.
CHECK_IMPORT = """
import importlib, inspect, sys, typing

sys.path.insert(0, ".")
module = importlib.import_module(sys.argv[1])
for value in list(vars(module).values()):
    if getattr(value, "__module__", None) != module.__name__:
        continue
    if inspect.isfunction(value):
        typing.get_type_hints(value)
    elif inspect.isclass(value):
        typing.get_type_hints(value)
        for member in vars(value).values():
            if inspect.isfunction(member):
                typing.get_type_hints(member)
"""
