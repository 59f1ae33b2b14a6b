"""The agent's side of the module hosts: spawn, wait, stop, usage, adopt after a restart.

Every container runs in a module host process of its own (forked by the
zygote, :mod:`wasmlet_wasi.zygote`; what happens inside is
:mod:`wasmlet_wasi.guest`).  The agent holds, per container, a **pidfd** of
its host and nothing else:

* waiting: the pidfd becomes readable when the host ends; the exit status is
  the host's ``exit.json`` (written by the host, or by the zygote for a host
  that died by a signal), see :mod:`wasmlet_wasi.runs`;
* stopping: WASI preview 1 has no signals, so there is no graceful phase: a
  stop is a SIGKILL through the pidfd, immediate whatever the module is doing
  (spinning, or blocked in a WASI call), and everything the host held --
  memory, descriptors, its thread -- is the kernel's to free at once.  It is
  reported as exit code 137, like any SIGKILLed container;
* usage: ``/proc/<pid>/stat`` and ``statm`` (CPU seconds, private resident
  memory);
* adoption: hosts keep running when the agent stops or dies; a restarted
  agent finds them from the run records (pid plus process start time, so a
  recycled pid is never adopted) and waits on them as on its own.

Guest arguments: see :func:`guest_argv`.  Working directory: WASI preview 1
has no working directory (wasi-libc resolves relative paths against ``/``
and the preopens); ``workingDir`` is passed as ``PWD`` and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import structlog

from kubelet_core import ContainerStartError, LogPolicy
from kubelet_core.containers import ContainerUsage, ExitStatus, RunningContainer, VolumeMount
from wasmlet_wasi.network import NetworkGrant
from wasmlet_wasi.runs import RunDir, exit_from_json, open_live_host

log = structlog.get_logger(__name__)

#: Address space a module host may map beyond what it maps at fork and its linear memory
#: (its store and instance, stacks, malloc arenas).
RUNTIME_ADDRESS_SPACE = 512 << 20
#: Longest a module may take from fork to running ``_start`` (instantiation, a start function).
START_TIMEOUT = 60.0
#: Spawn requests larger than this travel in a file (a pod's argv and env can be big).
INLINE_REQUEST = 64 << 10
#: Spawn requests sent and not yet answered.  The zygote takes them one by one; a
#: Unix datagram/seqpacket receiver queues at most ``net.unix.max_dgram_qlen`` (10)
#: messages, and waiting for room through epoll proved unreliable under load, so
#: the agent never sends more than the queue holds.
IN_FLIGHT = 4
#: How long to wait for the zygote to write the status of a host that died by a signal.
STATUS_GRACE = 1.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def guest_argv(name: str, command: Sequence[str], args: Sequence[str]) -> list[str]:
    """The module's argv.

    A module has one entry point, so ``command`` cannot pick a program; it is
    treated like an exec-form entrypoint whose first word is the program name:
    with ``command`` set, argv is ``command + args`` (``command[0]`` becomes
    ``argv[0]``); without it, argv is ``[container name] + args``.  Either way
    ``args`` start at ``argv[1]``, as in a Linux container, unlike Krustlet,
    which passed ``args`` as the whole argv.
    """
    if command:
        return [*command, *args]
    return [name, *args]


@dataclasses.dataclass(frozen=True)
class ModuleSpec:
    """One module run, resolved from a ContainerLaunch."""

    name: str
    module_path: Path
    argv: Sequence[str]
    env: Sequence[tuple[str, str]]
    mounts: Sequence[VolumeMount]
    log_path: Path
    run_dir: Path
    memory_limit: int | None = None  # bytes of linear memory
    cpu_limit: float | None = None  # cores
    cpu_budget: float | None = None  # seconds of CPU time
    working_dir: str | None = None
    log_policy: LogPolicy | None = None  # log rotation (None: the file only grows)
    open_files: int | None = 1024  # RLIMIT_NOFILE of the host
    uid: int | None = None  # run the host as this user (None: the agent's)
    gid: int | None = None
    groups: Sequence[int] = ()  # supplementary groups (the pod's fsGroup among them)
    network: NetworkGrant = dataclasses.field(default_factory=NetworkGrant)  # none unless granted

    def request(self) -> dict[str, Any]:
        """The spawn request the zygote receives."""
        env = list(self.env)
        if self.working_dir:
            env.append(("PWD", self.working_dir))
        address_space = None
        if self.memory_limit is not None:
            address_space = self.memory_limit + RUNTIME_ADDRESS_SPACE
        return {
            "op": "spawn",
            "module": str(self.module_path),
            "argv": list(self.argv),
            "env": env,
            "mounts": [
                {
                    "host": str(mount.host_path),
                    "root": str(mount.root) if mount.root is not None else None,
                    "guest": mount.container_path,
                    "read_only": mount.read_only,
                }
                for mount in self.mounts
            ],
            "log_path": str(self.log_path),
            "log_max_bytes": self.log_policy.max_bytes if self.log_policy else None,
            "log_max_files": self.log_policy.max_files if self.log_policy else None,
            "run_dir": str(self.run_dir),
            "memory_limit": self.memory_limit,
            "cpu_limit": self.cpu_limit,
            "cpu_budget": self.cpu_budget,
            "open_files": self.open_files,
            "address_space": address_space,
            "uid": self.uid,
            "gid": self.gid,
            "groups": list(self.groups),
            "network": self.network.request(),
        }


def private_memory(smaps_rollup: str) -> int:
    """Bytes only this process maps (what pages shared copy-on-write with the zygote are not)."""
    total = 0
    for line in smaps_rollup.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


class WasiContainer(RunningContainer):
    """A module host process, known by its pidfd."""

    def __init__(self, pid: int, pidfd: int, run: RunDir) -> None:
        self.pid = pid
        self.run = run
        self._pidfd = pidfd
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[ExitStatus] = self._loop.create_future()
        self._killed = False
        self._recorded = asyncio.Event()
        self._final = ContainerUsage()
        self._loop.add_reader(pidfd, self._on_exit)

    # -- RunningContainer ----------------------------------------------------------

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._done)

    async def stop(self, grace_period_seconds: float) -> None:
        if self._done.done():
            return
        self._final = self.usage()
        self._killed = True
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(grace_period_seconds, 0.0) + 1):
                await asyncio.shield(self._done)

    def usage(self) -> ContainerUsage:
        if self._done.done():
            return self._final
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            rollup = Path(f"/proc/{self.pid}/smaps_rollup").read_text()
        except OSError:
            return self._final
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        self._final = ContainerUsage(cpu_seconds=cpu, memory_bytes=private_memory(rollup))
        return self._final

    @property
    def alive(self) -> bool:
        return not self._done.done()

    def detach(self) -> None:
        """Stop watching the host (agent shutdown): it keeps running on its own."""
        if not self._done.done():
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self._pidfd)
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = -1

    # -- internals -----------------------------------------------------------------

    def _on_exit(self) -> None:
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._pidfd)
        self.usage()  # the last figures /proc still has
        self._loop.create_task(self._collect())

    def status_recorded(self) -> None:
        """The zygote says it has written this host's ``exit.json``."""
        self._recorded.set()

    async def _collect(self) -> None:
        record = self.run.exit_record()
        deadline = self._loop.time() + STATUS_GRACE
        while record is None and not self._killed and self._loop.time() < deadline:
            # The zygote writes it right after reaping, and says so; an adopted host's
            # zygote may be gone (another agent's): then look again shortly.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.02):
                    await self._recorded.wait()
            record = self.run.exit_record()
        status = exit_from_json(record) if record is not None else None
        cpu = (record or {}).get("cpu_seconds")
        if isinstance(cpu, int | float):
            self._final = ContainerUsage(cpu_seconds=float(cpu), memory_bytes=0)
        if self._killed and (status is None or status.signal == signal.SIGKILL):
            status = ExitStatus(exit_code=137, reason="Error", message="stopped", signal=9)
        elif status is None:
            status = ExitStatus(
                exit_code=137,
                reason="Error",
                message="the module host ended without an exit status (killed by a signal?)",
                signal=9,
            )
        with contextlib.suppress(OSError):
            os.close(self._pidfd)
        self._pidfd = -1
        if not self._done.done():
            self._done.set_result(status)


class ModuleHosts:
    """The zygote process, and the spawning and adopting of module hosts through it."""

    def __init__(self, cache_dir: Path | None, *, log_path: Path | None = None) -> None:
        self.cache_dir = cache_dir
        #: Where the zygote's own output goes (a traceback, should it ever crash).
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], list[int]]]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._warned_landlock = False
        self._hosts: dict[int, WasiContainer] = {}  # this zygote's live hosts, by pid
        self.spawned = 0

    async def start(self) -> None:
        """Start the zygote and wait until it has its engine."""
        async with self._lock:
            if self._sock is not None and self._process is not None:
                if self._process.poll() is None:
                    return
                self._close_socket()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            args = [
                sys.executable,
                "-m",
                "wasmlet_wasi.zygote",
                "--socket-fd",
                str(theirs.fileno()),
            ]
            if self.cache_dir is not None:
                args += ["--cache-dir", str(self.cache_dir)]
            try:
                # Popen, not asyncio's subprocess: the zygote may outlive this event
                # loop (it stays while hosts run), and no child watcher must track it.
                # Nor may it hold the agent's stdout/stderr open after the agent is
                # gone: what it has to say goes to its own log file.
                self._process = await asyncio.to_thread(self._spawn_zygote, args, theirs)
            finally:
                theirs.close()
            ours.setblocking(False)
            loop = asyncio.get_running_loop()
            ready = await loop.sock_recv(ours, 4096)
            if not ready:
                ours.close()
                raise RuntimeError("the WASI zygote process failed to start")
            self._sock = ours
            loop.add_reader(ours.fileno(), self._on_readable)

    def _spawn_zygote(self, args: list[str], sock: socket.socket) -> subprocess.Popen[bytes]:
        log_file = self.log_path.open("ab") if self.log_path is not None else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                args,
                pass_fds=[sock.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        finally:
            if not isinstance(log_file, int):
                log_file.close()

    async def spawn(self, spec: ModuleSpec) -> WasiContainer:
        """Start a module host for ``spec``; ContainerStartError if the module cannot run."""
        if self._sock is None or self._process is None or self._process.poll() is not None:
            await self.start()
        sock = self._sock
        assert sock is not None
        async with self._in_flight:  # flow control: see IN_FLIGHT
            reply, fds, report_r = await self._request(sock, spec)
        if "error" in reply:
            os.close(report_r)
            raise ContainerStartError(str(reply["error"]), reason=reply.get("reason"))
        self.spawned += 1
        container = WasiContainer(int(reply["pid"]), fds[0], RunDir(spec.run_dir))
        self._hosts[container.pid] = container
        try:
            async with asyncio.timeout(START_TIMEOUT):
                report = await _read_report(report_r)
        except BaseException as exc:  # cancelled, or a start function that never returns
            # SIGKILL at once, then wait (up to 10 s on a loaded machine) until it is gone:
            # a failed start leaves no host behind.
            await container.stop(9.0)
            if not isinstance(exc, TimeoutError):
                raise
            raise ContainerStartError(
                f"the module did not finish instantiating within {START_TIMEOUT:g}s "
                "(a wasm start function that does not return?)"
            ) from None
        if report.get("started"):
            if report.get("landlock") is False and not self._warned_landlock:
                self._warned_landlock = True
                log.warning(
                    "this kernel has no Landlock: module hosts run without filesystem "
                    "confinement beyond wasmtime's own (docs/security.md)"
                )
            return container
        status = await container.wait()
        if report.get("error"):
            status = exit_from_json(report)
        raise ContainerStartError(
            status.message or "the module host ended before the module started",
            reason=status.reason or "StartError",
            exit_code=status.exit_code,
        )

    async def _request(
        self, sock: socket.socket, spec: ModuleSpec
    ) -> tuple[dict[str, Any], list[int], int]:
        """Send one spawn request; the zygote's reply, its fds, and the report pipe's read end."""
        loop = asyncio.get_running_loop()
        ident = next(self._ids)
        request = spec.request() | {"id": ident}
        reply_future: asyncio.Future[tuple[dict[str, Any], list[int]]] = loop.create_future()
        self._pending[ident] = reply_future
        message = _encode(request)
        if len(message) > INLINE_REQUEST:  # a socket message has a size limit: pass a file
            request_file = spec.run_dir / "request.json"
            await asyncio.to_thread(_write_request, request_file, message)
            message = _encode({"op": "spawn", "id": ident, "file": str(request_file)})
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        try:
            await self._send(sock, message, [report_w])
        except BaseException:
            self._pending.pop(ident, None)
            os.close(report_r)
            raise
        finally:
            os.close(report_w)
        try:
            reply, fds = await reply_future
        except BaseException:
            os.close(report_r)
            raise
        return reply, fds, report_r

    def adopt(self, run: RunDir) -> WasiContainer | None:
        """The host of ``run`` if it still runs (it survived an agent restart), else None."""
        live = open_live_host(run)
        return None if live is None else WasiContainer(*live, run)

    async def close(self) -> None:
        """Let the zygote go: it forks no more and leaves once its last host has ended."""
        self._close_socket()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ContainerStartError("the WASI provider is shutting down"))
        self._pending.clear()

    # -- the socket ------------------------------------------------------------------

    async def _send(self, sock: socket.socket, data: bytes, fds: list[int]) -> None:
        """Send one request.  With at most IN_FLIGHT outstanding the zygote's queue has
        room; should a smaller ``max_dgram_qlen`` still refuse it, retry shortly."""
        async with self._send_lock:
            for attempt in itertools.count():
                try:
                    socket.send_fds(sock, [data], fds)
                    return
                except BlockingIOError:
                    await asyncio.sleep(min(0.001 * 2**attempt, 0.05))

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 4)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:  # the zygote died: fail what waits, start a new one on demand
                log.error("the WASI zygote process ended unexpectedly")
                self._close_socket()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(
                            ContainerStartError("the WASI zygote process ended unexpectedly")
                        )
                self._pending.clear()
                return
            try:
                reply: dict[str, Any] = orjson.loads(data)
            except ValueError:
                reply = {}
            if "exited" in reply:  # a host's exit record is written
                host = self._hosts.pop(int(reply["exited"]), None)
                if host is not None:
                    host.status_recorded()
                continue
            waiter = self._pending.pop(int(reply.get("id", 0)), None)
            if waiter is None or waiter.done():
                for fd in fds:
                    os.close(fd)
                continue
            waiter.set_result((reply, fds))

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


def _encode(message: dict[str, Any]) -> bytes:
    """A message to the zygote as JSON (orjson: ~5x cheaper than json.dumps per spawn).

    What orjson refuses (a lone surrogate in an env value, an integer beyond 64
    bits) goes through :mod:`json`, which the zygote reads either way.
    """
    try:
        return orjson.dumps(message)
    except TypeError:
        return json.dumps(message).encode()


def _write_request(path: Path, message: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(message)


async def _read_report(fd: int) -> dict[str, Any]:
    """The host's one report line (``started`` or its start error); {} if it said nothing."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    buffer = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        buffer.extend(chunk)
        if (not chunk or b"\n" in buffer) and not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    line = bytes(buffer).split(b"\n", 1)[0]
    try:
        report = orjson.loads(line) if line else {}
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


async def start_module(hosts: ModuleHosts, spec: ModuleSpec) -> WasiContainer:
    """Prepare and start ``spec`` in its own host; raise ContainerStartError if it cannot start."""
    return await hosts.spawn(spec)
