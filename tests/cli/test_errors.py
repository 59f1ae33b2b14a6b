"""Mistakes a user can make on the command line end in one clear line, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def wasmlet(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubelet_core._cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_missing_and_broken_kubeconfig(tmp_path: Path) -> None:
    missing = wasmlet("node", "--kubeconfig", str(tmp_path / "nope"), "--data-dir", str(tmp_path))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and "Traceback" not in missing.stderr
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\n")
    result = wasmlet("node", "--kubeconfig", str(broken), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "cannot use the kubeconfig" in result.stderr and "Traceback" not in result.stderr


def test_api_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = wasmlet("up", "--data-dir", str(tmp_path), "--api-port", port)
    assert result.returncode == 1
    assert "address already in use" in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_value(tmp_path: Path) -> None:
    result = wasmlet("node", "--node-labels", "novalue", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "not key=value" in result.stderr


def test_unparsable_kubeconfig_and_bad_reference(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("a: [b\n")
    result = wasmlet("node", "--kubeconfig", str(kubeconfig), "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "cannot use the kubeconfig" in result.stderr
    assert "Traceback" not in result.stderr
    pulled = wasmlet("modules", "--data-dir", str(tmp_path), "pull", "BAD REF!")
    assert pulled.returncode == 2 and "invalid image reference" in pulled.stderr
