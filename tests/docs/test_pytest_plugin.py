"""The pytest plugin as docs/writing-a-provider.md describes it: opt-in, and fine in strict mode.

Each test runs pytest on a small project of its own (tests/docs/snippets.py:
``run_pytest``), as a provider author's suite would run in an environment
where kubelet-core is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.docs.snippets import EXAMPLES, run_pytest

PLUGIN = 'pytest_plugins = ["kubelet_core.testing.plugin"]\n'


def test_installing_kubelet_core_adds_no_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_other(cluster):\n    pass\n")
    result = run_pytest(tmp_path, "test_other.py")
    assert result.returncode == 1, result.stdout
    assert "fixture 'cluster' not found" in result.stdout
    assert "run_node" not in result.stdout  # not among the available fixtures either


def test_run_node_in_strict_mode(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "echo_provider.py", tmp_path)
    (tmp_path / "conftest.py").write_text(PLUGIN)
    (tmp_path / "test_echo.py").write_text(
        "import pytest\n"
        "from echo_provider import EchoProvider\n"
        "from kubelet_core.testing import pod_manifest\n\n"
        "@pytest.mark.asyncio\n"
        "async def test_echo(cluster, run_node):\n"
        "    async with run_node(EchoProvider(), 'echo-node') as agent:\n"
        "        assert agent.node_name == 'echo-node'\n"
        "        await cluster.create_pod(pod_manifest('p', args=['hi']))\n"
        "        await cluster.wait_for_pod('default', 'p', phase='Succeeded')\n"
    )
    result = run_pytest(tmp_path, "test_echo.py", asyncio_mode="strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
