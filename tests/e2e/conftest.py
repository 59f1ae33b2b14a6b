"""``wasmlet up`` as a user runs it: a subprocess, driven with a real kubectl.

One ``wasmlet up`` per module (it starts in about a second); tests use their
own pod names.  The fixture reads the process's output line by line and
returns when it prints its banner (event-driven, no polling), and stops it
with SIGTERM by PID at the end, failing if it does not exit cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.components import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Wasmlet:
    """A running ``wasmlet up`` and a kubectl pointed at it."""

    process: subprocess.Popen[str]
    data_dir: Path
    kubectl_binary: str
    output: list[str]
    #: Notified for every line the process prints (see :meth:`wait_for_output`).
    printed: threading.Condition = dataclasses.field(default_factory=threading.Condition)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run(
            [self.kubectl_binary, *args], env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout + (result.stderr if not check else "")

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def apply(self, *manifests: dict[str, Any]) -> str:
        """``kubectl apply -f -`` with the manifests as one multi-document YAML stream."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run(
            [self.kubectl_binary, "apply", "-f", "-"],
            input=yaml.safe_dump_all(manifests),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        """Block until the process has printed ``text`` (or exited, or ``timeout``)."""
        with self.printed:
            found = self.printed.wait_for(
                lambda: text in "".join(self.output) or self.process.poll() is not None,
                timeout,
            )
        assert found and text in "".join(self.output), (
            f"{text!r} not printed within {timeout}s:\n" + "".join(self.output[-30:])
        )

    def wait_phase(self, pod: str, phase: str, timeout: int = 60) -> None:
        self.kubectl(
            "wait",
            f"--for=jsonpath={{.status.phase}}={phase}",
            f"pod/{pod}",
            f"--timeout={timeout}s",
            timeout=timeout + 10,
        )


def start_wasmlet(
    data_dir: Path, kubectl_binary: str, *extra: str, env: dict[str, str] | None = None
) -> Wasmlet:
    """Start ``wasmlet up`` with ``extra`` arguments; ``env`` adds environment variables."""
    command = [
        sys.executable,
        "-m",
        "kubelet_core._cli.main",
        "up",
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(free_port()),
        *extra,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    output: list[str] = []
    printed = threading.Condition()
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with printed:
                output.append(line)
                printed.notify_all()
            if "wasmlet is up" in line:
                ready.set()
        ready.set()  # exited: let the waiter see it
        with printed:
            printed.notify_all()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or process.poll() is not None:
        process.kill()
        raise AssertionError("wasmlet up did not start:\n" + "".join(output))
    return Wasmlet(process, data_dir, kubectl_binary, output, printed)


def stop_wasmlet(wasmlet: Wasmlet) -> int:
    wasmlet.process.send_signal(signal.SIGTERM)
    try:
        return wasmlet.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        wasmlet.process.kill()
        wasmlet.process.wait()
        raise AssertionError("wasmlet up did not stop within 30 s of SIGTERM") from None


@pytest.fixture(scope="module")
def wasmlet(tmp_path_factory: pytest.TempPathFactory, kubectl: str) -> Iterator[Wasmlet]:
    running = start_wasmlet(tmp_path_factory.mktemp("wasmlet-up"), kubectl)
    try:
        yield running
    finally:
        code = stop_wasmlet(running)
        tail = "".join(running.output[-50:])
        assert code == 0, f"wasmlet up exited with {code}:\n{tail}"


def wasi_pod(name: str, args: list[str], **spec: Any) -> dict[str, Any]:
    """A pod running the bundled scripted WASI module with ``args``."""
    container: dict[str, Any] = {
        "name": "main",
        "image": "examples.wasmlet.dev/wasi-script:v1",
        "imagePullPolicy": "IfNotPresent",
        "args": args,
    }
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": spec.pop("restartPolicy", "Never"),
            "nodeSelector": {"kubernetes.io/arch": "wasm32-wasi"},
            "tolerations": [{"key": "kubernetes.io/arch", "operator": "Exists"}],
            "containers": [container],
            **spec,
        },
    }


def import_bundled_script(data_dir: Path) -> None:
    """Import the bundled scripted module into a node's data dir, as a user would
    (only `wasmlet up` imports the bundled modules itself)."""
    modules = REPO / "src" / "providers" / "wasi" / "wasmlet_wasi" / "modules"
    imported = subprocess.run(
        [sys.executable, "-m", "kubelet_core._cli.main", "modules", "--data-dir",
         str(data_dir), "import", str(modules / "scripted.wasm"),
         "examples.wasmlet.dev/wasi-script:v1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
