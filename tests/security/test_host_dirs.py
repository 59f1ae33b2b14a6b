"""What a pod's user could plant in the directories it shares with the agent.

A module host runs as the pod's user and writes its own log files, so the
container's log directory is the pod user's.  Review finding: root then
followed links planted there -- serving another file to ``kubectl logs``,
truncating or creating files elsewhere when allocating a run's log -- and
the run directory (exit records) was the pod user's too.  These plant the
links directly, as code escaping wasmtime would.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubelet_core._containers.logs import LogStore, LogWriter, stream_log
from kubelet_core._provider.base import LogOptions
from tests.wasi.conftest import WASM_DIR, hosts

__all__ = ["hosts"]  # the fixture
from wasmlet_wasi.runtime import ModuleHosts, ModuleSpec

POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}}


async def read(path: Path) -> bytes:
    return b"".join([chunk async for chunk in stream_log(path, LogOptions())])


async def test_a_planted_link_is_never_served_as_a_log(tmp_path: Path) -> None:
    secret = tmp_path / "root-only"
    secret.write_text("ROOT-ONLY-SECRET\n")
    os.chmod(secret, 0o600)
    store = LogStore(tmp_path / "pods")
    path = store.allocate(POD, "main", 0)
    writer = LogWriter(path)
    writer.write(b"mine\n")
    writer.close()
    (path.parent / "0.log.9").symlink_to(secret)  # a "rotated" file of the run
    assert await read(path) == b"mine\n"


async def test_allocating_a_log_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    store = LogStore(tmp_path / "pods")
    planted = store.path(POD, "main", 1)
    planted.parent.mkdir(parents=True)
    planted.symlink_to(victim)  # the next run's log, planted before it starts
    path = store.allocate(POD, "main", 1)
    assert not path.is_symlink() and path.read_bytes() == b""
    assert victim.read_text() == "keep me"


async def test_run_records_stay_root_s(hosts: ModuleHosts, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        return  # an unprivileged agent runs hosts as itself: nothing is shared
    spec = ModuleSpec(
        name="scripted",
        module_path=WASM_DIR / "scripted.wasm",
        argv=["scripted", "exit", "3"],
        env=[],
        mounts=[],
        log_path=tmp_path / "logs" / "0.log",
        run_dir=tmp_path / "runs" / "0",
        uid=65534,
        gid=65534,
    )
    host = await hosts.spawn(spec)
    status = await host.wait()
    assert status.exit_code == 3  # the host said it on its pipe; the zygote recorded it
    info = spec.run_dir.stat()
    assert (info.st_uid, info.st_mode & 0o022) == (0, 0)  # not writable by the pod's user
    for record in spec.run_dir.iterdir():
        assert record.stat().st_uid == 0
    assert (tmp_path / "logs").stat().st_uid == 65534  # its log directory is its own
