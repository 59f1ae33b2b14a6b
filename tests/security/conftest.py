"""Fixtures for the sandbox-escape attacks: ``wasmlet up`` with an allowed host path.

Reuses the e2e fixtures (``wasmlet up`` as a subprocess, a real kubectl) and
the kubelet API's client helpers; one ``wasmlet up`` per module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Wasmlet, start_wasmlet, stop_wasmlet


@dataclasses.dataclass
class Guarded:
    """A running ``wasmlet up --allowed-host-paths <allowed>`` and the host around it."""

    up: Wasmlet
    allowed: Path  # the one host directory hostPath volumes may use
    secret: Path  # a host file outside everything a pod may see


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, kubectl: str) -> Iterator[Guarded]:
    base = tmp_path_factory.mktemp("guarded")
    allowed = base / "allowed"
    allowed.mkdir()
    allowed.chmod(0o777)  # shared with the pods, whatever user their containers run as
    (allowed / "greeting").write_text("from the allowed dir")
    secret_dir = base / "host-secret"
    secret_dir.mkdir()
    secret = secret_dir / "token"
    secret.write_text("TOP-SECRET-HOST-FILE")
    up = start_wasmlet(
        base / "up", kubectl, "--provider", "wasi", "--allowed-host-paths", str(allowed)
    )
    try:
        yield Guarded(up, allowed, secret)
    finally:
        code = stop_wasmlet(up)
        tail = "".join(up.output[-50:])
        assert code == 0, f"wasmlet up exited with {code}:\n{tail}"


# The kubelet API's fixtures (a PKI, the review server, a file-backed provider, the server).
from tests.kubeletapi.conftest import (  # noqa: E402
    http,
    pki,
    provider,
    registry,
    review_api,
    review_server,
    server,
)

__all__ = [
    "Guarded",
    "guarded",
    "http",
    "pki",
    "provider",
    "registry",
    "review_api",
    "review_server",
    "server",
]
