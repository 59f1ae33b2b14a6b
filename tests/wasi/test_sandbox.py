"""What the kernel enforces on a module host: its user, capabilities, rlimits and Landlock."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kubelet_core._containers.runtime import VolumeMount
from tests.wasi.conftest import WASM_DIR
from wasmlet_wasi import guest, sandbox
from wasmlet_wasi.runtime import RUNTIME_ADDRESS_SPACE, ModuleHosts, ModuleSpec, WasiContainer


def status_of(container: WasiContainer) -> dict[str, str]:
    lines = Path(f"/proc/{container.pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def limit_of(container: WasiContainer, name: str) -> str:
    for line in Path(f"/proc/{container.pid}/limits").read_text().splitlines():
        if line.startswith(name):
            return line[len(name) :].split()[0]
    raise AssertionError(f"no {name} in /proc/{container.pid}/limits")


async def sleeper(hosts: ModuleHosts, tmp_path: Path, **fields: object) -> WasiContainer:
    spec = ModuleSpec(
        name="scripted",
        module_path=WASM_DIR / "scripted.wasm",
        argv=["scripted", "sleep", "60000"],
        env=[],
        mounts=[VolumeMount(tmp_path, "/data")],
        log_path=tmp_path / "logs" / "0.log",
        run_dir=tmp_path / "runs" / "0",
        **fields,  # type: ignore[arg-type]
    )
    return await hosts.spawn(spec)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs a root agent")
async def test_host_runs_unprivileged_with_its_limits(hosts: ModuleHosts, tmp_path: Path) -> None:
    host = await sleeper(
        hosts, tmp_path, uid=65534, gid=65534, memory_limit=64 << 20, open_files=100
    )
    try:
        status = status_of(host)
        assert status["Uid"].split() == ["65534"] * 4
        assert status["Gid"].split() == ["65534"] * 4
        assert status["Groups"] == ""
        assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
        assert status["NoNewPrivs"] == "1"
        assert limit_of(host, "Max open files") == "100"
        # What it mapped at fork (the zygote's, shared) plus the memory limit and allowance.
        address_space = int(limit_of(host, "Max address space"))
        assert address_space > (64 << 20) + RUNTIME_ADDRESS_SPACE
        assert address_space < (64 << 20) + RUNTIME_ADDRESS_SPACE + (2 << 30)
        assert os.getsid(host.pid) == host.pid
        assert os.getpriority(os.PRIO_PROCESS, host.pid) == 10  # below the agent
    finally:
        await host.stop(1)


async def test_root_in_a_pod_has_no_capabilities(hosts: ModuleHosts, tmp_path: Path) -> None:
    host = await sleeper(hosts, tmp_path)  # runAsUser: 0 (or an unprivileged agent's own user)
    try:
        status = status_of(host)
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
        assert status["NoNewPrivs"] == "1"
    finally:
        await host.stop(1)


def test_landlock_confines_to_the_rules(tmp_path: Path) -> None:
    """A process confined to one directory can read there and nowhere else, not even as root."""
    if sandbox.landlock_abi() < 1:
        pytest.fail("this kernel has no Landlock; docs/security.md says what is lost without it")
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "ok").write_text("readable")
    outside = tmp_path / "outside"
    outside.write_text("secret")
    script = textwrap.dedent(
        f"""
        import os
        from wasmlet_wasi import sandbox
        fd = os.open({str(inside)!r}, os.O_PATH | os.O_DIRECTORY)
        sandbox.forbid_privileges()
        assert sandbox.restrict_filesystem([sandbox.FsRule(fd, writable=False)]) >= 1
        print(open({str(inside / "ok")!r}).read())
        for path in ({str(outside)!r}, "/etc/hostname"):
            try:
                open(path).read()
            except PermissionError:
                print("denied", path)
        try:
            open({str(inside / "new")!r}, "w")
        except PermissionError:
            print("denied write")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == [
        "readable",
        f"denied {outside}",
        "denied /etc/hostname",
        "denied write",
        "",
    ]


def confined_host(record: Path) -> tuple[int, dict[str, str]]:
    """The host's pid and /proc status once it has confined itself (there is no event
    for that: bounded polling, in a thread).  Lowering its priority is the last step
    of ``confine()``, so a host at the pod niceness has every earlier limit in place."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if record.exists():
            pid = int(json.loads(record.read_text())["pid"])
            nice = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
            if nice == guest.POD_NICENESS:
                assert status.get("NoNewPrivs") == "1"
                return pid, status
        time.sleep(0.01)
    raise AssertionError("the host did not confine itself within 5 s")


def gone(pid: int) -> bool:
    try:
        return "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True


START_SPIN = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $spin (loop $forever (br $forever)))
  (start $spin)
  (func (export "_start")))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs a root agent")
async def test_a_start_function_runs_confined_and_is_bounded(
    hosts: ModuleHosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wasm start function runs at instantiation: only after every limit is in place
    (it was once run as root, before them), and a start that never ends is killed."""
    import wasmtime

    from kubelet_core import ContainerStartError
    from wasmlet_wasi import runtime

    module = tmp_path / "startspin.wasm"
    module.write_bytes(wasmtime.wat2wasm(START_SPIN))
    monkeypatch.setattr(runtime, "START_TIMEOUT", 3.0)
    spec = ModuleSpec(
        name="startspin",
        module_path=module,
        argv=["startspin"],
        env=[],
        mounts=[],
        log_path=tmp_path / "logs" / "0.log",
        run_dir=tmp_path / "runs" / "0",
        uid=65534,
        gid=65534,
    )
    spawning = asyncio.create_task(hosts.spawn(spec))
    pid, status = await asyncio.to_thread(confined_host, spec.run_dir / "host.json")
    assert status["Uid"].split()[0] == "65534" and int(status["CapEff"], 16) == 0
    with pytest.raises(ContainerStartError, match="did not finish instantiating"):
        await spawning
    assert await asyncio.to_thread(gone, pid)
