"""The module host: one process per container, forked from the zygote, running one module.

Everything here runs in the forked child (:func:`host_main`), on its main
thread, in this order:

1. leave the zygote: own session (a Ctrl-C or a signal to the agent's
   process group never reaches it), the zygote's descriptors closed, stdio on
   ``/dev/null``;
2. open what the module may use while still privileged: the log file
   (through the core's :class:`~kubelet_core._containers.LogWriter`, so
   rotation applies) and every volume mount beneath its trusted root
   (``VolumeMount.root``: a link planted after the agent's check cannot
   redirect it); build the store and the WASI context;
3. confine itself (:mod:`wasmlet_wasi.sandbox`): rlimits, no new privileges,
   the pod's user and groups with no capabilities, Landlock beneath the
   mounts and the log directory, nice 10, the CPU clock;
4. only then instantiate the module (a wasm start function runs here, so it
   runs confined), report ``started`` (or the start error) on the report pipe
   to the agent, and run ``_start``;
5. write how it ended on the status pipe -- one write, on a pipe opened before
   the module ran, so no exhausted descriptor table can lose it -- and leave
   with ``os._exit``.  The zygote (root) turns that into the run's
   ``exit.json``; the run directory is never the pod user's.

stdout and stderr reach the log through ``stdout_custom``: a Python call per
write, but in this process, on the module's own thread, so the cost is
charged to the pod's CPU and never takes the agent's GIL.

Limits that need a clock (``activeDeadlineSeconds``' CPU budget, a CPU limit
below one core) use the epoch-deadline callback, with a ticker thread that
exists only in hosts that have such a limit; stopping is a SIGKILL from the
agent, so no host needs a clock to be stoppable.

Components run the same way: linked per pod (``wasi:http`` only for a pod
granted outgoing HTTP, see :mod:`wasmlet_wasi.network`), their
``wasi:cli/run`` export called instead of ``_start``; ``wasi:cli/exit``'s
``exit``/``exit-with-code`` end them like ``proc_exit``.

Exit statuses: ``_start`` returning is 0; ``proc_exit(n)`` is n (wasmtime
only accepts 0..125); an exit status >= 126 makes wasmtime raise a plain
error, reported as exit code 1 with that explanation; a trap is exit code 1,
reason ``Error``, with the trap's message; a module that fails with its
linear memory at the limit is ``OOMKilled`` (wasmtime-py cannot tell a
refused ``memory.grow`` apart, see :meth:`_Host._maybe_oom`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import resource
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wasm_component

from kubelet_core import ContainerStartError, LogPolicy
from kubelet_core.containers import ExitStatus, LogWriter
from wasmlet_wasi import sandbox
from wasmlet_wasi.engine import LoadedModule, WasmEngine, first_line
from wasmlet_wasi.runs import exit_to_json

#: CPU throttle period (like CFS's cpu.cfs_period_us).
THROTTLE_PERIOD = 0.100
#: Epoch tick of a host with a CPU limit or budget.
TICK = 0.010
#: Deadline far enough away to never fire in a host without a clock.
NO_DEADLINE = 1 << 40
#: Scheduling priority of a running module (nice value; the agent stays at 0).
POD_NICENESS = 10

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
_Finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_NO_FINALIZER = _Finalizer()  # a NULL function pointer


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Clock:
    """CPU budget and CPU throttle, checked from the epoch-deadline callback."""

    def __init__(self, cpu_limit: float | None, cpu_budget: float | None) -> None:
        self.cpu_limit = cpu_limit if cpu_limit is not None and cpu_limit < 1 else None
        self.cpu_budget = cpu_budget
        self.exceeded = False
        self.cpu_at_start = 0.0
        self.period_start = 0.0
        self.period_cpu = 0.0
        self.delta = 1 if self.cpu_limit is not None else 5

    @property
    def needed(self) -> bool:
        return self.cpu_limit is not None or self.cpu_budget is not None

    def start(self) -> None:
        self.cpu_at_start = time.thread_time()
        self.period_start, self.period_cpu = time.monotonic(), self.cpu_at_start

    def on_deadline(self, delta: Any, kind: Any) -> int:
        """The epoch callback body; returns 0 to continue or a wasmtime_error_t* to stop."""
        try:
            self._account()
            if self.exceeded:
                err = ffi.wasmtime_error_new(b"stopped by wasmlet: DeadlineExceeded")
                return ctypes.cast(err, ctypes.c_void_p).value or 0
        except Exception:  # never let an exception cross the ctypes boundary
            pass
        delta[0] = self.delta
        kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
        return 0

    def _account(self) -> None:
        cpu = time.thread_time()
        if self.cpu_budget is not None and cpu - self.cpu_at_start >= self.cpu_budget:
            self.exceeded = True
            return
        limit = self.cpu_limit
        if limit is None:
            return
        now = time.monotonic()
        if now - self.period_start >= THROTTLE_PERIOD:
            self.period_start, self.period_cpu = now, cpu
        elif cpu - self.period_cpu >= limit * THROTTLE_PERIOD:
            # Sleep until this period's CPU share is back at the limit (the callback
            # may come up to a tick late, so the quota can be overshot a little).
            resume = self.period_start + (cpu - self.period_cpu) / limit
            time.sleep(max(0.0, resume - now))
            self.period_start, self.period_cpu = time.monotonic(), time.thread_time()


def _tick(engine: wasmtime.Engine) -> None:
    while True:
        time.sleep(TICK)
        engine.increment_epoch()


class _Host:
    """One module run inside this process (see the module docstring)."""

    def __init__(
        self, engine: WasmEngine, loaded: LoadedModule, request: dict[str, Any], status_fd: int
    ) -> None:
        self.engine = engine
        self.status_fd = status_fd  # where the exit status goes (the zygote reads it)
        self.loaded = loaded
        self.request = request
        self.memory_limit: int | None = request.get("memory_limit")
        self.clock = _Clock(request.get("cpu_limit"), request.get("cpu_budget"))
        self.memory: wasmtime.Memory | None = None
        self.store: wasmtime.Store | None = None
        self.instance: wasmtime.Instance | None = None
        self.component_instance: wasm_component.Instance | None = None
        #: What the pod is granted on the network (:class:`wasmlet_wasi.network.NetworkGrant`).
        self.network: dict[str, Any] = request.get("network") or {}
        self.rules: list[sandbox.FsRule] = []
        self._callback: Any = None
        self._writer: LogWriter | None = None
        self.landlock = True  # False where the kernel has no Landlock

    # -- setup ---------------------------------------------------------------------

    def prepare(self) -> None:
        request = self.request
        log_path = Path(request["log_path"])
        policy = None
        if request.get("log_max_bytes"):
            policy = LogPolicy(request["log_max_bytes"], request["log_max_files"])
        self._writer = LogWriter(log_path, policy)
        self.rules.append(sandbox.FsRule(_open_dir(log_path.parent), writable=True))
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(request["argv"])
        wasi.env = [tuple(pair) for pair in request["env"]]
        wasi.stdout_custom = self._write
        wasi.stderr_custom = self._write_stderr
        for mount in request["mounts"]:
            self._preopen(wasi, mount)
        uid, gid = request.get("uid"), request.get("gid")
        if uid is not None and os.geteuid() == 0 and uid != 0:
            # What the host itself writes once it is the pod's user: its rotated logs.
            # (Its run record stays root's: the zygote writes it from the status pipe.)
            owner_gid = -1 if gid is None else gid
            os.chown(log_path.parent, uid, owner_gid, follow_symlinks=False)
            self._writer.chown(uid, owner_gid)
        store = self.store = wasmtime.Store(self.engine.engine)
        if self.memory_limit is not None:
            store.set_limits(memory_size=self.memory_limit)
        if self.loaded.is_component:
            if self.network.get("name_lookup"):
                ffi.wasi_config_allow_ip_name_lookup(wasi.ptr(), True)
            if self.network.get("connect_ports") or self.network.get("bind_ports"):
                ffi.wasi_config_inherit_network(wasi.ptr())
        store.set_wasi(wasi)
        if self.loaded.is_component and self.network.get("http"):
            ffi.wasmtime_context_set_wasi_http(store._context())
        if self.clock.needed:
            self._callback = _Callback(
                lambda _c, _d, delta, kind: self.clock.on_deadline(delta, kind)
            )
            ffi.wasmtime_store_epoch_deadline_callback(
                store.ptr(), self._callback, None, _NO_FINALIZER
            )
            store.set_epoch_deadline(self.clock.delta)
        else:
            store.set_epoch_deadline(NO_DEADLINE)

    def instantiate(self) -> None:
        """Instantiate the module -- confined already: a wasm start function runs here."""
        store = self.store
        assert store is not None
        if self.loaded.is_component:
            self._instantiate_component(store)
            return
        assert self.loaded.pre is not None
        try:
            instance = self.instance = self.loaded.pre.instantiate(store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            text = first_line(exc)
            if "memory" in text and ("limit" in text or "minimum" in text):
                raise ContainerStartError(
                    f"module needs more initial memory than limits.memory allows: {text}",
                    reason="OOMKilled",
                ) from None
            raise ContainerStartError(f"cannot instantiate module: {text}") from None
        memory = instance.exports(store).get("memory")
        if isinstance(memory, wasmtime.Memory):
            self.memory = memory

    def _instantiate_component(self, store: wasmtime.Store) -> None:
        loaded = self.loaded
        assert isinstance(loaded.module, wasm_component.Component)
        granted = bool(self.network.get("http"))
        if loaded.needs_http and not granted:
            http = [name for name in loaded.imports if name.startswith("wasi:http/")]
            raise ContainerStartError(
                f"component imports {', '.join(http)}, and the pod is not granted outgoing "
                "HTTP (annotation wasi.wasmlet.dev/allowed-outbound, docs/wasi.md)",
                reason="NetworkDenied",
            )
        linker = self.engine.http_linker if granted else self.engine.component_linker
        try:
            self.component_instance = linker.instantiate(store, loaded.module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise ContainerStartError(f"cannot instantiate component: {first_line(exc)}") from None

    def _run_component(self, store: wasmtime.Store) -> ExitStatus:
        instance = self.component_instance
        assert instance is not None
        interface = instance.get_export_index(store, self.loaded.run_export)
        index = instance.get_export_index(store, "run", interface) if interface else None
        run = instance.get_func(store, index) if index is not None else None
        if run is None:
            raise ContainerStartError(f"component has no {self.loaded.run_export}#run function")
        result = run(store)  # wasi:cli/run's result: a Variant tagged "ok" or "err"
        if getattr(result, "tag", "ok") != "ok":
            return ExitStatus(exit_code=1, message="wasi:cli/run returned an error")
        return ExitStatus(exit_code=0)

    def _preopen(self, wasi: wasmtime.WasiConfig, mount: dict[str, Any]) -> None:
        guest, host = mount["guest"], mount["host"]
        try:
            fd = _open_mount(host, mount.get("root"))
        except OSError as exc:
            raise ContainerStartError(
                f"volume mount {guest}: cannot open host path {host}: {exc.strerror or exc}"
            ) from None
        try:
            wasi.preopen_dir(f"/proc/self/fd/{fd}", guest, fs_mutable=not mount["read_only"])
        except wasmtime.WasmtimeError as exc:
            raise ContainerStartError(f"volume mount {guest}: {first_line(exc)}") from None
        self.rules.append(sandbox.FsRule(fd, writable=not mount["read_only"]))

    def _write_stderr(self, data: bytes) -> None:
        self._write(data, "stderr")

    def _write(self, data: bytes, stream: str = "stdout") -> None:
        """Append guest output to the log; if the disk refuses, drop it but keep running.

        The module must never see its stdout fail because the node's disk is full
        (a Rust ``println!`` panics on a broken pipe): its output is lost, not its run.
        """
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.write(data, stream)

    def confine(self) -> None:
        """Every kernel limit, before any guest code runs (a start function included)."""
        request = self.request
        extra = request.get("address_space")
        sandbox.apply_limits(
            sandbox.Limits(
                open_files=request.get("open_files"),
                # What the host maps now (the zygote's code and modules, shared) plus
                # the pod's allowance: a zygote grown by other pods' modules must not
                # eat into this pod's memory.
                address_space=None if extra is None else _mapped_bytes() + int(extra),
                cpu_seconds=_ceil(request.get("cpu_budget")),
            )
        )
        sandbox.forbid_privileges()
        sandbox.drop_to(request.get("uid"), request.get("gid"), request.get("groups") or ())
        if not sandbox.restrict_filesystem(
            self.rules,
            connect_ports=self.network.get("connect_ports") or (),
            bind_ports=self.network.get("bind_ports") or (),
        ):
            self.landlock = False
        for rule in self.rules:
            os.close(rule.fd)
        self.rules.clear()
        # Below the node's own work: a pod that spins cannot starve the agent's lease
        # renewals and API answers (kubelet gets this from its system-reserved cgroup).
        os.setpriority(os.PRIO_PROCESS, 0, POD_NICENESS)
        if self.clock.needed:
            threading.Thread(target=_tick, args=(self.engine.engine,), daemon=True).start()
        self.clock.start()

    # -- running -------------------------------------------------------------------

    def run(self) -> ExitStatus:
        store, instance = self.store, self.instance
        assert store is not None
        try:
            if self.loaded.is_component:
                return self._run_component(store)
            assert instance is not None
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(store)
            return ExitStatus(exit_code=0)
        except wasmtime.ExitTrap as exc:
            if exc.code == 0:
                return ExitStatus(exit_code=0)
            return self._maybe_oom(
                ExitStatus(exit_code=exc.code, message=f"exit status {exc.code}")
            )
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            if self.clock.exceeded:
                return ExitStatus(
                    exit_code=137,
                    reason="DeadlineExceeded",
                    message=f"CPU time budget of {self.clock.cpu_budget}s used up",
                    signal=9,
                )
            text = first_line(exc)
            if "invalid exit status" in text:
                return self._maybe_oom(
                    ExitStatus(
                        exit_code=1,
                        message=f"module exited with a status outside WASI's 0..125 ({text})",
                    )
                )
            message = text if text.startswith("wasm trap") else f"wasm trap: {text}"
            return self._maybe_oom(ExitStatus(exit_code=1, reason="Error", message=message))
        except MemoryError:
            return self._oom("the module host ran out of address space")

    def _maybe_oom(self, status: ExitStatus) -> ExitStatus:
        """OOMKilled when the module failed with its linear memory at ``limits.memory``."""
        limit = self.memory_limit
        used = self.memory_bytes()
        if limit is None or used < limit - max(1 << 20, limit // 8):
            return status
        return self._oom(
            f"linear memory reached {used >> 20} MiB of the {limit >> 20} MiB limit "
            f"and the module failed ({status.message})",
            status.exit_code,
        )

    def _oom(self, message: str, exit_code: int = 137) -> ExitStatus:
        return ExitStatus(exit_code=exit_code, reason="OOMKilled", message=message)

    def memory_bytes(self) -> int:
        if self.memory is None or self.store is None:
            return 0
        with contextlib.suppress(Exception):
            return int(self.memory.data_len(self.store))
        return 0

    def finish(self, status: ExitStatus) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        record = exit_to_json(status, _now()) | {"cpu_seconds": usage.ru_utime + usage.ru_stime}
        record["message"] = str(record.get("message") or "")[:2048]
        # One write below PIPE_BUF, on a pipe opened before the module ran: it cannot
        # fail for want of a descriptor, and the zygote (root) makes it the run record.
        with contextlib.suppress(OSError):
            os.write(self.status_fd, json.dumps(record).encode()[:4000])
        if self._writer is not None:
            self._writer.close()


def _mapped_bytes() -> int:
    """This process's address space now (VmSize)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _ceil(value: float | None) -> int | None:
    return None if value is None else int(value) + 1


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_mount(host: str, root: str | None) -> int:
    """An O_PATH fd of the mount's directory, resolved beneath its trusted root."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
    if root is None:
        try:
            return os.open(host, flags)
        except NotADirectoryError:
            raise ContainerStartError(
                f"host path {host} is a file; WASI can only preopen directories"
            ) from None
        except FileNotFoundError:
            raise ContainerStartError(
                f"host path {host} is missing; WASI can only preopen directories"
            ) from None
    from kubelet_core.containers import open_beneath

    try:
        return open_beneath(Path(root), Path(host), flags=flags)
    except NotADirectoryError:
        raise ContainerStartError(
            f"host path {host} is a file; WASI can only preopen directories"
        ) from None


def _report(fd: int, message: dict[str, Any]) -> None:
    """One line on the report pipe (a single write below PIPE_BUF is atomic)."""
    data = json.dumps(message).encode()[:3800] + b"\n"
    with contextlib.suppress(OSError):
        os.write(fd, data)


#: The module :func:`warm_up` runs: a WASI command that does nothing (the wasmlet's own).
_IDLE_COMMAND = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
"""


def warm_up(engine: WasmEngine) -> None:
    """Run a host's setup once, here, on a module of our own, before hosts are forked.

    A host copies every shared page it writes.  Code that never ran in the
    parent writes more than its objects' reference counts: CPython 3.11
    quickens and specializes a function's bytecode in place as it first runs
    it, and fills caches (ctypes types, type attribute caches) on first use.
    Done once in the parent, those writes are shared by every host.  Nothing
    here touches what confines a host, and the module is ours (it has no
    start function, and its ``_start`` returns at once).
    """
    module = wasmtime.Module(engine.engine, _IDLE_COMMAND)
    idle = LoadedModule("warm-up", module, engine.linker.instantiate_pre(module), "memory", 0.0)
    with tempfile.TemporaryDirectory(prefix="wasmlet-warm-up-") as scratch:
        for argc in range(1, 5):
            request: dict[str, Any] = {
                "argv": ["warm-up"] * argc,
                "env": [("WARM", "UP")] * (argc - 1),
                "mounts": [],
                "log_path": str(Path(scratch) / str(argc) / "0.log"),
            }
            host = _Host(engine, idle, request, -1)
            host.prepare()
            host.instantiate()
            host.run()
            host.memory_bytes()
            if host._writer is not None:
                host._writer.close()
            for rule in host.rules:
                os.close(rule.fd)


def leave_zygote(close: Sequence[int]) -> None:
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    os.close(null)


def host_main(
    engine: WasmEngine,
    loaded: LoadedModule,
    request: dict[str, Any],
    report_fd: int,
    status_fd: int,
    close: Sequence[int],
) -> NoReturn:
    """The forked child's whole life (never returns)."""
    host: _Host | None = None
    try:
        leave_zygote(close)
        host = _Host(engine, loaded, request, status_fd)
        try:
            host.prepare()
            host.confine()
            host.instantiate()
        except (ContainerStartError, OSError) as exc:
            if isinstance(exc, ContainerStartError):
                failed = ExitStatus(exc.exit_code, exc.reason, exc.message)
            else:
                failed = ExitStatus(128, "StartError", f"cannot set up the module host: {exc}")
            _report(report_fd, exit_to_json(failed, _now()) | {"error": True})
            host.finish(failed)
            os._exit(0)
        _report(report_fd, {"started": True, "landlock": host.landlock})
        os.close(report_fd)
        status = host.run()
        host.finish(status)
    except BaseException as exc:  # a bug here must still leave a status behind
        with contextlib.suppress(BaseException):
            failed = ExitStatus(128, "StartError", f"module host failed: {exc!r}")
            _report(report_fd, exit_to_json(failed, _now()) | {"error": True})
        with contextlib.suppress(BaseException):
            if host is not None:
                host.finish(ExitStatus(1, "Error", f"module host failed: {exc!r}"))
    os._exit(0)
