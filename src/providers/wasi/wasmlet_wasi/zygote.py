"""The zygote: a warm, single-threaded parent that forks one module host per container.

Why a zygote.  Running modules as threads of the agent made a module's
resources the agent's (file descriptors, memory, a blocked WASI call that
outlives its pod) and the agent's life the module's.  Each container now runs
in a process of its own (:mod:`wasmlet_wasi.guest`) with kernel limits.
Starting a Python process per container would cost ~100 ms and tens of MiB;
forking a parent that has wasmtime, the engine and the compiled modules
loaded costs about a millisecond and shares all of that copy-on-write.  The
agent itself cannot fork safely (it has threads and an event loop), so it
starts this small process once and asks it over a ``SOCK_SEQPACKET`` socket:

* agent → zygote: ``{"op": "spawn", "id": n, ...}`` with the write end of a
  report pipe attached (SCM_RIGHTS); the host reports ``started`` or its
  start error on that pipe, straight to the agent;
* zygote → agent: ``{"id": n, "pid": p}`` with a pidfd of the host attached
  (the agent waits for and kills the host through it, immune to pid reuse),
  or ``{"id": n, "error": ...}`` when the module cannot even be loaded.

The zygote reaps its hosts and writes each one's ``exit.json`` (from what
the host said on its status pipe, or from its wait status).  A module that is
in no cache is compiled by a confined worker the zygote forks
(:mod:`wasmlet_wasi.compiler`), so other starts go on meanwhile.  When the
agent goes away (its end of the socket closes) the zygote forks no more, but
stays until its last host has ended, so every run keeps a complete record for
the agent that comes next (:mod:`wasmlet_wasi.runs`).  Run it as ``python -m wasmlet_wasi.zygote
--socket-fd N --cache-dir DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from kubelet_core import ContainerStartError
from kubelet_core.containers import ExitStatus
from wasmlet_wasi.compiler import compile_main
from wasmlet_wasi.engine import LoadedModule, WasmEngine, is_component
from wasmlet_wasi.guest import _now, host_main
from wasmlet_wasi.runs import EXIT_FILE, HOST_FILE, exit_to_json, process_start_ticks, write_record

#: Largest control message (a pod's argv and env travel in it).
MAX_MESSAGE = 1 << 20


def status_of_wait(wait_status: int) -> ExitStatus:
    """The ExitStatus of a host that ended without writing one (it died by a signal)."""
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        if signum == signal.SIGXCPU:
            return ExitStatus(
                137, "DeadlineExceeded", "CPU time limit of the container reached", signal=signum
            )
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        return ExitStatus(128 + signum, "Error", f"module host killed by {name}", signal=signum)
    code = os.waitstatus_to_exitcode(wait_status)
    return ExitStatus(code or 1, "Error", "module host ended without an exit status")


@dataclasses.dataclass
class _Compile:
    pid: int
    fd: int  # the read end of the worker's output
    began: float
    component: bool  # what the worker compiles (how to load what it wrote)
    output: bytearray = dataclasses.field(default_factory=bytearray)
    waiting: list[tuple[dict[str, Any], int]] = dataclasses.field(default_factory=list)


class Zygote:
    def __init__(self, sock: socket.socket, engine: WasmEngine) -> None:
        self.sock = sock
        self.engine = engine
        self.children: dict[int, Path] = {}  # pid -> run dir
        #: pid -> the read end of the host's status pipe, and what it said so far
        self.statuses: dict[int, tuple[int, bytearray]] = {}
        #: module digest -> its compilation under way, and the spawns waiting for it
        self.compiles: dict[str, _Compile] = {}
        self.connected = True
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the agent's to handle
        signal.set_wakeup_fd(self._wake_w)
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self._wake_r, selectors.EVENT_READ)
        while self.connected or self.children or self.compiles:
            for key, _ in self.selector.select():
                if key.fileobj is self.sock:
                    self._receive()
                elif key.fileobj == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake_r, 4096):
                            pass
                else:
                    self._compiled_some(key.data)
            self._reap()

    def _receive(self) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
        except InterruptedError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self.connected = False
            self.selector.unregister(self.sock)
            self.sock.close()
            for fd in fds:
                os.close(fd)
            return
        try:
            request = json.loads(data)
            if "file" in request:  # too big for one message
                request = json.loads(Path(request["file"]).read_bytes())
        except (ValueError, OSError):
            for fd in fds:
                os.close(fd)
            return
        if request.get("op") == "spawn" and fds:
            self._spawn(request, fds[0])
            for fd in fds[1:]:
                os.close(fd)
        else:
            for fd in fds:
                os.close(fd)

    def _reply(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        with contextlib.suppress(OSError):
            socket.send_fds(self.sock, [json.dumps(message).encode()], fds or [])

    def _spawn(self, request: dict[str, Any], report_fd: int) -> None:
        try:
            found = self.engine.lookup(Path(request["module"]))
        except ContainerStartError as exc:
            self._refuse(request, report_fd, exc)
            return
        if found.loaded is not None:
            self._fork_host(found.loaded, request, report_fd)
            return
        pending = self.compiles.get(found.digest)
        if pending is None:
            pending = self.compiles[found.digest] = self._start_compile(found.data)
            self.selector.register(pending.fd, selectors.EVENT_READ, found.digest)
        pending.waiting.append((request, report_fd))

    def _refuse(self, request: dict[str, Any], report_fd: int, exc: ContainerStartError) -> None:
        os.close(report_fd)
        self._reply({"id": request.get("id"), "error": exc.message, "reason": exc.reason})

    def _own_fds(self) -> list[int]:
        """What a forked child must close: every descriptor of the zygote's own."""
        fds = [self.sock.fileno(), self._wake_r, self._wake_w, self.selector.fileno()]
        fds += [fd for fd, _ in self.statuses.values()]
        fds += [compile.fd for compile in self.compiles.values()]
        return [fd for fd in fds if fd >= 0]

    def _start_compile(self, data: bytes) -> _Compile:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            compile_main(self.engine, data, out_w, [out_r, *self._own_fds()])
        os.close(out_w)
        os.set_blocking(out_r, False)
        return _Compile(pid, out_r, time.monotonic(), is_component(data))

    def _compiled_some(self, digest: str) -> None:
        """Read what a compile worker wrote; once it is done, start what waited for it."""
        pending = self.compiles[digest]
        try:
            while chunk := os.read(pending.fd, 1 << 20):
                pending.output.extend(chunk)
            # EOF: the worker is done (or dead)
        except BlockingIOError:
            return
        self.selector.unregister(pending.fd)
        os.close(pending.fd)
        del self.compiles[digest]
        output = bytes(pending.output)
        error: ContainerStartError | None = None
        loaded = None
        if output.startswith(b"OK"):
            try:
                loaded = self.engine.adopt(
                    digest,
                    output[2:],
                    time.monotonic() - pending.began,
                    component=pending.component,
                )
            except ContainerStartError as exc:
                error = exc
        else:
            reason = output[2:].decode(errors="replace") if output.startswith(b"ER") else ""
            error = ContainerStartError(
                reason or "compiling the module failed (its compiler ran out of time or memory)"
            )
        for request, report_fd in pending.waiting:
            if loaded is not None:
                self._fork_host(loaded, request, report_fd)
            else:
                assert error is not None
                self._refuse(request, report_fd, error)

    def _fork_host(self, loaded: LoadedModule, request: dict[str, Any], report_fd: int) -> None:
        ident = request.get("id")
        run_dir = Path(request["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            host_main(
                self.engine, loaded, request, report_fd, status_w, [status_r, *self._own_fds()]
            )
        os.close(report_fd)
        os.close(status_w)
        os.set_blocking(status_r, False)
        self.statuses[pid] = (status_r, bytearray())
        pidfd = os.pidfd_open(pid)
        write_record(
            run_dir / HOST_FILE,
            {"pid": pid, "start_ticks": process_start_ticks(pid), "started_at": _now()},
        )
        self.children[pid] = run_dir
        self._reply({"id": ident, "pid": pid, "source": loaded.source}, [pidfd])
        os.close(pidfd)

    def _reap(self) -> None:
        """Reap every child that ended: module hosts (recording how) and compile workers."""
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            if pid not in self.children:
                continue  # a compile worker: its output pipe says how it went
            run_dir = self.children.pop(pid, None)
            said = self._status_said(pid)
            if run_dir is not None:
                record = said or exit_to_json(status_of_wait(wait_status), _now())
                with contextlib.suppress(OSError):
                    write_record(run_dir / EXIT_FILE, record)
            self._reply({"exited": pid})

    def _status_said(self, pid: int) -> dict[str, Any] | None:
        """What host ``pid`` wrote on its status pipe before it ended (its exit record)."""
        fd, data = self.statuses.pop(pid, (-1, bytearray()))
        if fd < 0:
            return None
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 4096):
                data.extend(chunk)
        os.close(fd)
        try:
            record = json.loads(bytes(data)) if data else None
        except ValueError:
            return None
        return record if isinstance(record, dict) and "exit_code" in record else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wasmlet_wasi.zygote")
    parser.add_argument("--socket-fd", type=int, required=True)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.socket_fd)
    sock.setblocking(True)  # select() says when to read; a reply must never be dropped
    engine = WasmEngine(args.cache_dir)
    gc.collect()
    gc.freeze()  # what exists now is shared by every host: keep the collector off it
    try:
        sock.send(b'{"ready": true}')
    except OSError:
        sys.exit(1)
    Zygote(sock, engine).serve()


if __name__ == "__main__":
    main()
