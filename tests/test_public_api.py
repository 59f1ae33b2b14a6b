"""The public API, held to account: it changes only on purpose, and it type-checks.

The public modules are ``kubelet_core``, ``kubelet_core.containers`` and
``kubelet_core.testing`` (everything else is internal; the bundled providers
use only these, which ``.importlinter`` checks).  ``tests/public_api.json``
is the surface: every exported name, each class's public members and each
callable's signature.  A change to it must be deliberate: regenerate with
``python -m tests.test_public_api > tests/public_api.json`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

PUBLIC = ("kubelet_core", "kubelet_core.containers", "kubelet_core.testing")
SNAPSHOT = Path(__file__).with_name("public_api.json")


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _describe(obj: Any) -> Any:
    if inspect.isclass(obj):
        members: dict[str, str] = {}
        if dataclasses.is_dataclass(obj):
            for field in dataclasses.fields(obj):
                members[field.name] = f"field: {field.type}"
        for name, member in sorted(vars(obj).items()):
            if name.startswith("_") and name != "__init__":
                continue
            if callable(member) or isinstance(member, staticmethod | classmethod):
                members[name] = _signature(getattr(obj, name))
            elif isinstance(member, property):
                members[name] = "property"
            elif name not in members:
                members[name] = f"attribute: {type(member).__name__}"
        bases = [base.__name__ for base in obj.__bases__ if base is not object]
        return {"class": bases, "members": members}
    if callable(obj):
        return {"function": _signature(obj)}
    return {"value": type(obj).__name__}


def surface() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for module_name in PUBLIC:
        module = importlib.import_module(module_name)
        names = sorted(getattr(module, "__all__", []))
        result[module_name] = {name: _describe(getattr(module, name)) for name in names}
    return result


def test_every_other_module_is_marked_internal() -> None:
    """Internals live in ``_``-prefixed packages or modules, as kopf's do, so no one
    mistakes ``kubelet_core._pods.sync`` for API; a new public module is a decision."""
    import pkgutil

    import kubelet_core

    unmarked = sorted(
        info.name
        for info in pkgutil.walk_packages(kubelet_core.__path__, "kubelet_core.")
        if info.name not in PUBLIC
        and info.name != "kubelet_core.testing.plugin"
        and not any(part.startswith("_") for part in info.name.split(".")[1:])
    )
    assert unmarked == []


def test_the_public_surface_changes_only_on_purpose() -> None:
    current = surface()
    recorded = json.loads(SNAPSHOT.read_text())
    changed = sorted(
        f"{module}.{name}"
        for module in current.keys() | recorded.keys()
        for name in current.get(module, {}).keys() | recorded.get(module, {}).keys()
        if current.get(module, {}).get(name) != recorded.get(module, {}).get(name)
    )
    assert not changed, (
        f"the public API changed: {changed}; if on purpose, regenerate with "
        "`python -m tests.test_public_api > tests/public_api.json`"
    )


def test_every_exported_name_resolves() -> None:
    for module_name in PUBLIC:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module_name}.{name}"


THIRD_PARTY = '''
"""A provider as a third party writes it: only the public API."""

from __future__ import annotations

import kubelet_core
from kubelet_core import KubeObject, NodeProfile
from kubelet_core.containers import (
    ContainerLaunch,
    ContainerProvider,
    ExitStatus,
    ImageRef,
    LogWriter,
    ImagePull,
    RunningContainer,
)


class Done(RunningContainer):
    def __init__(self, launch: ContainerLaunch) -> None:
        writer = LogWriter(launch.log_path, None)
        writer.write(" ".join(launch.args).encode() + b"\\n")
        writer.close()

    async def wait(self) -> ExitStatus:
        return ExitStatus(exit_code=0)

    async def stop(self, grace_period_seconds: float) -> None:
        return None


class Mine(kubelet_core.ContainerProvider):
    def node_profile(self) -> NodeProfile:
        return NodeProfile.for_wasm_arch("wasm32-example")

    async def pull_image(self, pull: ImagePull) -> ImageRef:
        return ImageRef(reference=pull.image, image_id="sha256:0")

    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        return Done(launch)


def is_a_container_provider(provider: Mine) -> ContainerProvider:
    return provider


def agent(config: kubelet_core.NodeConfig) -> kubelet_core.NodeAgent:
    return kubelet_core.NodeAgent(Mine(), config)
'''


def test_a_third_party_provider_type_checks_strictly(tmp_path: Path) -> None:
    """``class Mine(kubelet_core.ContainerProvider)`` used to fail: "Invalid base class"."""
    package = tmp_path / "third_party_provider.py"
    package.write_text(textwrap.dedent(THIRD_PARTY))
    mypy = Path(sysconfig.get_path("scripts")) / "mypy"
    result = subprocess.run(
        [str(mypy), "--strict", "--no-incremental", "--ignore-missing-imports", str(package)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # not the repository: only what is installed is seen
    )
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":
    json.dump(surface(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
