"""The zygote: a warm, single-threaded parent that forks one module host per container.

Why a zygote.  Running modules as threads of the agent made a module's
resources the agent's (file descriptors, memory, a blocked WASI call that
outlives its pod) and the agent's life the module's.  Each container now runs
in a process of its own (:mod:`wasmlet_wasi.guest`) with kernel limits.
Starting a Python process per container would cost ~100 ms and tens of MiB;
forking a parent that has wasmtime, the engine and the compiled modules
loaded costs a few milliseconds and shares all of that copy-on-write.  The
agent itself cannot fork safely (it has threads and an event loop), so it
starts this small process once and asks it over a ``SOCK_SEQPACKET`` socket:

* agent → zygote: ``{"op": "spawn", "id": n, ...}`` with the write end of a
  report pipe attached (SCM_RIGHTS); the host reports ``started`` or its
  start error on that pipe, straight to the agent;
* zygote → agent: ``{"id": n, "pid": p}`` with a pidfd of the host attached
  (the agent waits for and kills the host through it, immune to pid reuse),
  or ``{"id": n, "error": ...}`` when the module cannot even be loaded.

The hosts are forked by the zygote's *forker* (:func:`forker_main`), a
child that does nothing else, so that the zygote's own work between spawns
does not make the pages it shares with each host that host's own; it reaps
them when the zygote asks, and the zygote, their child subreaper, reaps
those a forker that ended left behind.  It forks each host ahead of its
request (:class:`_Spare`), so a start does not wait for a fork.

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
import ctypes
import dataclasses
import gc
import json
import marshal
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from kubelet_core import ContainerStartError
from kubelet_core.containers import ExitStatus
from wasmlet_wasi.compiler import compile_main
from wasmlet_wasi.engine import LoadedModule, WasmEngine, is_component
from wasmlet_wasi.guest import _now, host_main, warm_up
from wasmlet_wasi.prefork import fill_holes
from wasmlet_wasi.runs import EXIT_FILE, HOST_FILE, exit_to_json, process_start_ticks, write_record

#: Largest control message (a pod's argv and env travel in it).
MAX_MESSAGE = 1 << 20
#: Largest message the forker receives (a module digest) and answers (a pid or an error).
FORKER_MESSAGE = 512
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


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


@dataclasses.dataclass
class _Forker:
    """The zygote's end of its forker: the quiet process the module hosts are forked from."""

    pid: int
    sock: socket.socket
    modules: frozenset[str]  # digests of the modules it holds (those resident when it forked)

    hosts: set[int] = dataclasses.field(default_factory=set)  # its children, not reaped yet

    def fork(self, digest: str, fds: list[int]) -> int:
        """Ask for a host of module ``digest`` with ``fds``; its pid (OSError if none)."""
        reply = self._ask(b"F" + digest.encode(), fds)
        if reply.startswith(b"P"):
            pid = int(reply[1:])
            self.hosts.add(pid)
            return pid
        raise OSError(reply[1:].decode(errors="replace"))

    def reap(self, pid: int) -> int:
        """Have the forker reap its host ``pid``, which has ended; its wait status."""
        reply = self._ask(b"R%d" % pid, [])
        self.hosts.discard(pid)
        if not reply.startswith(b"W"):
            raise OSError(reply[1:].decode(errors="replace"))
        return int(reply[1:])

    def _ask(self, message: bytes, fds: list[int]) -> bytes:
        try:
            socket.send_fds(self.sock, [message], fds)
            reply = self.sock.recv(FORKER_MESSAGE)
        except OSError as exc:
            raise _ForkerGone(f"the forker is gone: {exc}") from None
        if not reply:
            raise _ForkerGone("the forker is gone")
        return reply


class _ForkerGone(OSError):
    """The forker ended (a new one can be started)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _bare_fork() -> int:
    """fork(2) through libc, without CPython's at-fork handlers (see :func:`forker_main`)."""
    pid = int(_libc.fork())
    if pid < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return pid


def forker_main(engine: WasmEngine, sock: socket.socket, close: list[int]) -> NoReturn:
    """The forker's whole life: fork a module host per request, write as little as it can.

    Why a forker.  A page of the zygote's is shared copy-on-write with every
    host forked since the zygote last wrote it; the next write makes the
    zygote a copy, and the old page, now mapped by that host alone, counts
    as the host's own.  The zygote writes hundreds of pages between two forks
    (parsing requests, records, replies, reaping): each host ended up owning
    about 2 MiB it never touched.  So the zygote forks this process once its
    modules are loaded (again whenever it loads a new one), and the forker,
    blocked in ``recvmsg`` between requests, forks the hosts: the pages it
    writes per request are a few dozen.  Each host is forked before its
    request comes (a spare, handed the request's descriptors when it does),
    and the next one once the zygote has its answer.  The hosts are its children: when
    one ends (its status pipe closes) the zygote asks the forker to reap it
    and gets its wait status.  A forker that is replaced, or dies, leaves
    its hosts to the zygote, a child subreaper, which reaps them itself.

    The fork is libc's ``fork()`` (its own handlers run: malloc's locks),
    not :func:`os.fork`, whose child runs CPython's at-fork hooks -- the
    ``threading``, ``logging`` and ``random`` modules' -- and they wrote
    another ~250 KiB of shared pages per host.  Those hooks reset what
    other threads may have left locked, and reseed ``random``; the forker
    has no other thread, holds no lock when it forks (it is in the libc call,
    the GIL released) and nothing in a host uses ``random`` (a guest's
    randomness is wasmtime's, from the kernel), so there is nothing to reset.
    The forker itself comes from :func:`os.fork`: hooks and all.
    """
    try:
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # waited for below, no handler to run
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # not inherited by what it forks
        with contextlib.suppress(Exception):  # an optimisation: hosts start without it
            warm_up(engine)
        gc.collect()
        gc.freeze()  # whatever the zygote made since its own freeze, and the warm-up
        fill_holes()
        spare = _fork_spare(engine, sock)
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, FORKER_MESSAGE, 3)
            except InterruptedError:
                continue
            if not data:
                break  # the zygote closed its end
            if data.startswith(b"R"):  # reap a host that has ended (its status pipe closed)
                try:
                    _pid, wait_status = os.waitpid(int(data[1:]), 0)
                    sock.send(b"W%d" % wait_status)
                except ChildProcessError as exc:
                    sock.send(b"E" + f"{exc}".encode()[:400])
                continue
            pid = spare.take(data, fds) if spare is not None else 0
            if not pid:  # no spare (or it died): fork this host now
                try:
                    pid = _bare_fork()
                except OSError as exc:
                    sock.send(b"E" + f"cannot fork a module host: {exc}".encode()[:400])
                else:
                    if pid == 0:
                        _host(engine, data[1:].decode(), fds, [sock.fileno()])
            if pid:
                sock.send(b"P%d" % pid)
            for fd in fds:
                os.close(fd)
            # The next host's fork, now that this one is on its way (off its start's path).
            spare = _fork_spare(engine, sock)
    except BaseException:
        pass
    os._exit(0)


def _host(engine: WasmEngine, digest: str, fds: list[int], close: list[int]) -> NoReturn:
    """A host forked by the forker: its request, its module, then :func:`host_main`."""
    try:
        _set_name(b"wasmlet-host")
        report_fd, status_fd, request_fd = fds
        request = marshal.loads(os.pread(request_fd, os.fstat(request_fd).st_size, 0))
        loaded = engine.resident(digest)
        assert loaded is not None  # the zygote only asks for a module the forker holds
        host_main(engine, loaded, request, report_fd, status_fd, [*close, request_fd])
    except BaseException:
        pass
    os._exit(0)


@dataclasses.dataclass
class _Spare:
    """A host forked ahead of its request, waiting for it (the forker's end).

    A fork costs milliseconds (the page tables of the forker's memory are
    copied, ~2 ms on a 2-core VM): forked ahead, it is not on the path of the
    next start.  The forker hands the spare the next request's descriptors
    and forks the following spare after it has answered.  A spare whose
    forker ends sees its socket close and leaves.
    """

    pid: int
    sock: socket.socket

    def take(self, data: bytes, fds: list[int]) -> int:
        """Hand it a request; its pid, or 0 if that failed (then it is ended and reaped)."""
        try:
            socket.send_fds(self.sock, [data], fds)
        except OSError:  # it died; or, alive, it must not wait forever: the forker waits here
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            return 0
        finally:
            self.sock.close()
        return self.pid


def _fork_spare(engine: WasmEngine, sock: socket.socket) -> _Spare | None:
    """Fork the next host ahead of its request (None if the fork fails: then on demand)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = _bare_fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        _spare_main(engine, sock, ours, theirs)
    theirs.close()
    return _Spare(pid, ours)


def _spare_main(
    engine: WasmEngine, forker: socket.socket, ours: socket.socket, theirs: socket.socket
) -> NoReturn:
    """A spare's life: drop the forker's sockets, wait for a request, become its host."""
    try:
        os.close(forker.fileno())  # the zygote must see the forker's end when it ends
        os.close(ours.fileno())
        _set_name(b"wasmlet-spare")
        data, fds, _flags, _addr = socket.recv_fds(theirs, FORKER_MESSAGE, 3)
        if data and len(fds) == 3:
            _host(engine, data[1:].decode(), fds, [theirs.fileno()])
    except BaseException:
        pass
    os._exit(0)


_PR_SET_NAME = 15


def _set_name(name: bytes) -> None:
    """The process's name in ``ps`` and /proc/PID/comm (what a spare is, or a host)."""
    _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


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
        self.forker: _Forker | None = None

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
                elif isinstance(key.data, int):
                    self._status_ready(key.data)
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
            self._stop_forker()
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
        if self.forker is not None:
            fds.append(self.forker.sock.fileno())
        return [fd for fd in fds if fd >= 0]

    def start_forker(self) -> _Forker:
        """Fork a forker holding every module loaded now (replacing the one before)."""
        self._stop_forker()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        modules = self.engine.resident_digests()
        pid = os.fork()
        if pid == 0:
            forker_main(self.engine, theirs, [ours.fileno(), *self._own_fds()])
        theirs.close()
        self.forker = _Forker(pid, ours, modules)
        return self.forker

    def _stop_forker(self) -> None:
        """Let the forker go: it leaves when its socket closes, and the zygote reaps it
        and, a subreaper, the hosts it leaves behind."""
        if self.forker is not None:
            self.forker.sock.close()
            self.forker = None

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
        forker = self.forker
        if forker is None or loaded.digest not in forker.modules:
            forker = self.start_forker()
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        request_fd = os.memfd_create("wasmlet-request", os.MFD_CLOEXEC)
        try:
            _write_all(request_fd, marshal.dumps(request))
            try:
                pid = forker.fork(loaded.digest, [report_fd, status_w, request_fd])
            except _ForkerGone:  # it died: a new one, once
                pid = self.start_forker().fork(loaded.digest, [report_fd, status_w, request_fd])
        except OSError as exc:
            self._stop_forker()  # the next spawn starts a new one
            os.close(status_r)
            self._refuse(request, report_fd, ContainerStartError(f"{exc}"))
            return
        finally:
            os.close(status_w)
            os.close(request_fd)
        os.close(report_fd)
        os.set_blocking(status_r, False)
        self.statuses[pid] = (status_r, bytearray())
        self.selector.register(status_r, selectors.EVENT_READ, pid)
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
            if pid in self.children:
                self._ended(pid, wait_status)
            # else a compile worker (its output pipe says how it went) or a forker

    def _status_ready(self, pid: int) -> None:
        """Host ``pid`` wrote on its status pipe, or closed it: it has ended."""
        fd, data = self.statuses[pid]
        try:
            while chunk := os.read(fd, 4096):
                data.extend(chunk)
        except BlockingIOError:
            return
        except OSError:
            pass
        self.selector.unregister(fd)
        forker = self.forker
        if forker is None or pid not in forker.hosts:
            return  # the zygote's own child (its forker is gone): reaped in _reap
        try:
            wait_status = forker.reap(pid)
        except _ForkerGone:
            self._stop_forker()  # its hosts are the zygote's now
            return
        except OSError:
            return
        self._ended(pid, wait_status)

    def _ended(self, pid: int, wait_status: int) -> None:
        """Record how host ``pid`` ended and tell the agent."""
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
        with contextlib.suppress(KeyError):
            self.selector.unregister(fd)
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
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # the hosts' parent once their middle process leaves
    gc.collect()
    gc.freeze()  # what exists now is shared by every host: keep the collector off it
    zygote = Zygote(sock, engine)
    zygote.start_forker()
    try:
        sock.send(b'{"ready": true}')
    except OSError:
        sys.exit(1)
    zygote.serve()


if __name__ == "__main__":
    main()
