"""Running one WASI module as a container: a store, a thread, limits, stop, exit status.

``start_module`` prepares everything that can fail before the module runs
(load, checks, store, WASI context, instantiation) in a worker thread and
raises :class:`ContainerStartError` with a clear message if any step fails;
then it starts a **dedicated thread** for ``_start``.  A dedicated thread per
module (not a bounded pool) because modules are long-running and may sit in
a blocking WASI call (``poll_oneoff`` sleeps): a pool would let sleepers
starve the rest.  wasmtime releases the GIL while wasm runs, so the event
loop is never blocked; the thread reports back with ``call_soon_threadsafe``.

Limits and control all hang on the store's epoch-deadline callback (see
:mod:`wasmlet_wasi.engine` for the clock), which runs on the module's thread:

* **stop**: ``stop()`` sets a flag and kicks the epoch; the callback returns
  an error, so ``_start`` unwinds with a trap at once (measured well under
  1 ms for a spinning module).  A module blocked in a WASI call stops when
  the call returns.  WASI preview 1 has no signals, so there is no graceful
  SIGTERM phase: the stop is immediate, reported as exit code 137 (like
  SIGKILL).  If the module is still blocked when the grace period ends, the
  container is reported terminated anyway and the thread is abandoned; it
  ends, and frees the store, as soon as its WASI call returns.
* **CPU budget** (``launch.deadline_seconds``): the callback compares the
  thread's CPU time with the budget; past it the module is stopped with
  reason ``DeadlineExceeded``.  Time blocked in WASI calls is not CPU time.
* **CPU throttle** (``limits.cpu`` below one core): CFS-like, per 100 ms
  period the module may use ``cpu * 100 ms`` of CPU; once it has, the
  callback sleeps (GIL released) until the CPU used over the period plus the
  sleep equals the limit.  The callback then runs every tick, so the
  granularity is 10 ms; the average share converges on the limit.
* **memory** (``limits.memory``): ``Store.set_limits`` caps linear memory.
  A module whose initial memory exceeds it fails to start (reason
  ``OOMKilled``); past that, ``memory.grow`` returns -1, which a module sees
  as malloc failing.  wasmtime-py cannot tell us that a grow was refused, so a
  module that then ends abnormally (non-zero exit or trap) with its memory
  within max(1 MiB, limit/8) of the cap is reported as ``OOMKilled``.

Exit statuses: ``_start`` returning is 0; ``proc_exit(n)`` is n (wasmtime
only accepts 0..125); an exit status >= 126 makes wasmtime raise a plain
error, reported as exit code 1 with that explanation; a trap is exit code 1,
reason ``Error``, with the trap's message.

Guest arguments: see :func:`guest_argv`.  Working directory: WASI preview 1
has no working directory (wasi-libc resolves relative paths against ``/``
and the preopens); ``workingDir`` is passed as ``PWD`` and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

from kubelet_core.containers.runtime import (
    ContainerUsage,
    ExitStatus,
    RunningContainer,
    VolumeMount,
)
from kubelet_core.provider.base import LogPolicy
from kubelet_core.provider.errors import ContainerStartError
from wasmlet_wasi.engine import LoadedModule, WasmEngine, _first_line
from wasmlet_wasi.logs import LogPipe

#: CPU throttle period (like CFS's cpu.cfs_period_us).
THROTTLE_PERIOD = 0.100
#: Deadline delta in ticks when no CPU limit needs fine granularity.
IDLE_DELTA = 5

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
_Finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_NO_FINALIZER = _Finalizer()  # a NULL function pointer


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
    memory_limit: int | None = None  # bytes of linear memory
    cpu_limit: float | None = None  # cores
    cpu_budget: float | None = None  # seconds of CPU time
    working_dir: str | None = None
    log_policy: LogPolicy | None = None  # log rotation (None: the file only grows)


class _Control:
    """State shared by the module thread, its epoch callback and the event loop."""

    def __init__(self, spec: ModuleSpec) -> None:
        self.spec = spec
        self.stop_reason: str | None = None  # set by stop() or the budget check
        self.memory_bytes = 0
        self.cpu_at_start = 0.0
        self.period_start = 0.0
        self.period_cpu = 0.0
        self.memory: wasmtime.Memory | None = None
        self.store: wasmtime.Store | None = None
        self.delta = 1 if spec.cpu_limit is not None and spec.cpu_limit < 1 else IDLE_DELTA

    def on_deadline(self, delta: Any, kind: Any) -> int:
        """The epoch callback body; returns 0 to continue or a wasmtime_error_t* to stop."""
        try:
            if self.stop_reason is None:
                self._account()
            if self.stop_reason is not None:
                err = ffi.wasmtime_error_new(f"stopped by wasmlet: {self.stop_reason}".encode())
                return ctypes.cast(err, ctypes.c_void_p).value or 0
            delta[0] = self.delta
            kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
            return 0
        except Exception:  # never let an exception cross the ctypes boundary
            delta[0] = self.delta
            kind[0] = 0
            return 0

    def _account(self) -> None:
        spec = self.spec
        if self.memory is not None and self.store is not None:
            self.memory_bytes = self.memory.data_len(self.store)
        cpu = time.thread_time()
        if spec.cpu_budget is not None and cpu - self.cpu_at_start >= spec.cpu_budget:
            self.stop_reason = "DeadlineExceeded"
            return
        if spec.cpu_limit is not None and spec.cpu_limit < 1:
            now = time.monotonic()
            if now - self.period_start >= THROTTLE_PERIOD:
                self.period_start, self.period_cpu = now, cpu
            elif cpu - self.period_cpu >= spec.cpu_limit * THROTTLE_PERIOD:
                # Sleep until this period's CPU share is back at the limit (the callback
                # may come up to a tick late, so the quota can be overshot a little).
                resume = self.period_start + (cpu - self.period_cpu) / spec.cpu_limit
                time.sleep(max(0.0, resume - now))
                self.period_start, self.period_cpu = time.monotonic(), time.thread_time()


class WasiContainer(RunningContainer):
    """A module running on its own thread."""

    def __init__(
        self,
        engine: WasmEngine,
        control: _Control,
        loaded: LoadedModule,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.engine = engine
        self.loaded = loaded
        self._control = control
        self._loop = loop
        self._done: asyncio.Future[ExitStatus] = loop.create_future()
        self._thread: threading.Thread | None = None
        self._final_cpu: float | None = None
        self.started_at = time.time()

    # -- RunningContainer ----------------------------------------------------------

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._done)

    async def stop(self, grace_period_seconds: float) -> None:
        if self._done.done():
            return
        if self._control.stop_reason is None:
            self._control.stop_reason = "Stopped"
        self.engine.kick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done), max(grace_period_seconds, 0.0))
        if not self._done.done():
            self._done.set_result(
                ExitStatus(
                    exit_code=137,
                    reason="Error",
                    message=(
                        "stopped after the grace period while blocked in a WASI call; "
                        "the module is discarded when the call returns"
                    ),
                    signal=9,
                )
            )

    def usage(self) -> ContainerUsage:
        return ContainerUsage(
            cpu_seconds=self.cpu_seconds(), memory_bytes=self._control.memory_bytes
        )

    # -- internals -----------------------------------------------------------------

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def cpu_seconds(self) -> float:
        if self._final_cpu is not None:
            return self._final_cpu
        thread = self._thread
        if thread is None or thread.ident is None or not thread.is_alive():
            return self._final_cpu or 0.0
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, ProcessLookupError):
            return self._final_cpu or 0.0

    def _launch(self, instance: wasmtime.Instance, callback: Any, logs: LogPipe) -> None:
        self._thread = threading.Thread(
            target=self._run,
            args=(instance, callback, logs),
            name=f"wasi-{self._control.spec.name}",
            daemon=True,
        )
        self.engine.acquire_ticker()
        self._thread.start()

    def _run(self, instance: wasmtime.Instance, callback: Any, logs: LogPipe) -> None:
        control = self._control
        store = control.store
        assert store is not None
        control.cpu_at_start = time.thread_time()
        control.period_start, control.period_cpu = time.monotonic(), control.cpu_at_start
        try:
            status = self._call_start(instance, store)
        finally:
            self._final_cpu = time.thread_time() - control.cpu_at_start
            self.engine.release_ticker()
            # Drop every reference to the store so wasmtime closes its stdout/stderr.
            control.memory = None
            control.store = None
            del instance, store
            logs.finish()
            del callback  # the store that could call it is gone
        try:
            self._loop.call_soon_threadsafe(self._resolve, status)
        except RuntimeError:
            pass  # the agent's loop is closed: nobody is waiting for this module any more

    def _resolve(self, status: ExitStatus) -> None:
        if not self._done.done():
            self._done.set_result(status)

    def _call_start(self, instance: wasmtime.Instance, store: wasmtime.Store) -> ExitStatus:
        control = self._control
        abnormal: ExitStatus
        try:
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(store)
            return ExitStatus(exit_code=0)
        except wasmtime.ExitTrap as exc:
            if exc.code == 0:
                return ExitStatus(exit_code=0)
            abnormal = ExitStatus(exit_code=exc.code, message=f"exit status {exc.code}")
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            if control.stop_reason == "DeadlineExceeded":
                return ExitStatus(
                    exit_code=137,
                    reason="DeadlineExceeded",
                    message=f"CPU time budget of {control.spec.cpu_budget}s used up",
                    signal=9,
                )
            if control.stop_reason is not None:
                return ExitStatus(exit_code=137, reason="Error", message="stopped", signal=9)
            text = _first_line(exc)
            if "invalid exit status" in text:
                abnormal = ExitStatus(
                    exit_code=1,
                    message=f"module exited with a status outside WASI's 0..125 ({text})",
                )
            else:
                message = text if text.startswith("wasm trap") else f"wasm trap: {text}"
                abnormal = ExitStatus(exit_code=1, reason="Error", message=message)
        except Exception as exc:  # a bug on our side must not leave wait() hanging
            return ExitStatus(exit_code=1, reason="Error", message=f"internal error: {exc!r}")
        return self._maybe_oom(abnormal, store)

    def _maybe_oom(self, status: ExitStatus, store: wasmtime.Store) -> ExitStatus:
        control = self._control
        limit = control.spec.memory_limit
        if control.memory is not None:
            with contextlib.suppress(Exception):
                control.memory_bytes = control.memory.data_len(store)
        if limit is None or control.memory_bytes < limit - max(1 << 20, limit // 8):
            return status
        return ExitStatus(
            exit_code=status.exit_code,
            reason="OOMKilled",
            message=(
                f"linear memory reached {control.memory_bytes >> 20} MiB of the "
                f"{limit >> 20} MiB limit and the module failed ({status.message})"
            ),
        )


async def start_module(engine: WasmEngine, spec: ModuleSpec) -> WasiContainer:
    """Prepare and start ``spec``; raise ContainerStartError if it cannot start."""
    loop = asyncio.get_running_loop()
    container = await asyncio.to_thread(_prepare, engine, spec, loop)
    return container


def _prepare(
    engine: WasmEngine, spec: ModuleSpec, loop: asyncio.AbstractEventLoop
) -> WasiContainer:
    try:
        data = spec.module_path.read_bytes()
    except OSError as exc:
        raise ContainerStartError(f"cannot read module {spec.module_path}: {exc}") from None
    loaded = engine.load(data)
    control = _Control(spec)
    store = wasmtime.Store(engine.engine)
    if spec.memory_limit is not None:
        store.set_limits(memory_size=spec.memory_limit)
    logs = LogPipe(spec.log_path, spec.name, spec.log_policy)
    try:
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(spec.argv)
        env = list(spec.env)
        if spec.working_dir:
            env.append(("PWD", spec.working_dir))
        wasi.env = env
        wasi.stdout_file = logs.guest_path
        wasi.stderr_file = logs.guest_path
        for mount in spec.mounts:
            _preopen(wasi, mount)
        store.set_wasi(wasi)
        logs.release_write_end()
        callback = _Callback(lambda _ctx, _data, delta, kind: control.on_deadline(delta, kind))
        ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), callback, None, _NO_FINALIZER)
        store.set_epoch_deadline(control.delta)
        try:
            instance = loaded.pre.instantiate(store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            text = _first_line(exc)
            if "memory" in text and "limit" in text:
                raise ContainerStartError(
                    f"module needs more initial memory than limits.memory allows: {text}",
                    reason="OOMKilled",
                ) from None
            raise ContainerStartError(f"cannot instantiate module: {text}") from None
        memory = instance.exports(store).get("memory")
        if isinstance(memory, wasmtime.Memory):
            control.memory = memory
            control.memory_bytes = memory.data_len(store)
        control.store = store
    except BaseException:
        logs.finish(timeout=0.5)
        raise
    container = WasiContainer(engine, control, loaded, loop)
    container._launch(instance, callback, logs)
    return container


def _preopen(wasi: wasmtime.WasiConfig, mount: VolumeMount) -> None:
    host = Path(mount.host_path)
    if not host.is_dir():
        what = "a file" if host.exists() else "missing"
        raise ContainerStartError(
            f"volume mount {mount.container_path}: host path {host} is {what}; "
            "WASI can only preopen directories"
        )
    try:
        wasi.preopen_dir(str(host), mount.container_path, fs_mutable=not mount.read_only)
    except wasmtime.WasmtimeError as exc:
        raise ContainerStartError(f"volume mount {mount.container_path}: {exc}") from None
