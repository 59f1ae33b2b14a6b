"""Developer sessions: tests, lint, typecheck, bench, demo, wasm.

``scripts/dev SESSION`` installs the system packages first and then runs these;
call nox directly once the machine is set up.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ("-e", ".[test]", "-e", "src/providers/wasi", "-e", "src/providers/wascc")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (real control plane, registry, wasm modules, kubectl)."""
    session.install(*PACKAGES)
    session.run(
        "pytest",
        "-ra",
        "--timeout=600",
        *(session.posargs or ["tests"]),
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, plus import-linter contracts that keep the layers apart."""
    session.install(*PACKAGES, "ruff", "import-linter")
    session.run("ruff", "check", "src", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the core and the providers."""
    session.install(*PACKAGES, "mypy", "types-PyYAML")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """`wasmlet up` with the sample pods applied (Ctrl-C stops it)."""
    session.install(*PACKAGES)
    session.run(
        "wasmlet", "up", "--data-dir", ".wasmlet", "--apply", "examples/hello-wasi.yaml",
        *session.posargs,
        external=False,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite (see benchmarks/README.md)."""
    session.install(*PACKAGES, "matplotlib")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def wasm(session: nox.Session) -> None:
    """Rebuild the test modules and actors from their C sources (needs clang-14)."""
    session.run("make", "-C", "testdata/wasm", external=True)
    session.run("make", "-C", "testdata/actors", external=True)
