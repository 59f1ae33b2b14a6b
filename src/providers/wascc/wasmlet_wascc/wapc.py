"""A waPC host on wasmtime: load an actor, call its operations, answer its host calls.

The ABI (wapc-guest 0.3 and later, which wascc-actor 0.7 uses): the guest
exports ``__guest_call(op_len, msg_len) -> ok`` and ``memory``; during a call
it fetches the operation and payload with ``__guest_request``, answers with
``__guest_response`` or ``__guest_error``, and reaches the host with the
8-argument ``__host_call(binding, namespace, operation, payload)`` whose result
it reads with ``__host_response(_len)`` / ``__host_error(_len)``.

Only this ABI is accepted.  The 4- and 6-argument ``__host_call`` of
wapc-guest 0.1/0.2 came with older payload codecs (protobuf, MessagePack
arrays) that the capabilities here do not speak, so accepting the ABI alone
would turn a clear load error into garbled calls at run time; such a module is
refused at load with a message saying which ABI it uses.

Why it is built this way:

* **One engine, one linker.**  Host functions are defined on the linker, not
  per store, and find the call they belong to through a thread-local
  :class:`_Call`: a guest call runs start to finish on one thread, and every
  callback into Python happens on that same thread.  Callbacks never raise
  (an exception from a callback crosses wasm through a process-global slot in
  wasmtime-py); failures become waPC errors or a recorded fault.
* **Epoch deadlines.**  The engine has epoch interruption on and one daemon
  thread ticks it every ``tick_seconds``; each call sets its store's deadline
  to the ticks its timeout allows, so a runaway guest traps with INTERRUPT
  (~0.2 ms after the deadline for a CPU-bound loop) and the host thread is
  freed.  A host call in progress is not interrupted; it ends first.
* **Calls block.**  :meth:`WapcInstance.call` is synchronous and not thread
  safe: wasmtime releases the GIL while wasm runs, so callers run it in a
  worker thread, one call per instance at a time (see :mod:`.pool`).
* **Compiled modules are cached** in memory by content hash, and on disk
  (``Module.serialize``) under a key that includes the wasmtime version and
  the engine settings, since a serialized module only loads into an engine
  configured the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path

import wasmtime

#: Called for ``__host_call``: (binding, namespace, operation, payload) -> response.
#: Raise :class:`HostCallError` to hand the guest a waPC error.
HostCall = Callable[[str, str, str, bytes], bytes]
#: Called for ``__console_log`` with the decoded text.
ConsoleLog = Callable[[str], None]

WAPC_MODULE = "wapc"
_REQUIRED_EXPORTS = ("__guest_call", "memory")
_HOST_CALL_ARITY = 8


def wasmtime_version() -> str:
    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


class WapcError(Exception):
    """Base of the errors a waPC call can end with."""


class InvalidActorModule(WapcError):
    """The module cannot be an actor here (not wasm, wrong ABI, unknown imports)."""


class GuestError(WapcError):
    """The guest returned failure, with the message it passed to ``__guest_error``."""


class GuestTrap(WapcError):
    """The guest trapped (``unreachable``, out-of-bounds, deadline...)."""

    def __init__(self, message: str, *, interrupted: bool = False) -> None:
        super().__init__(message)
        self.interrupted = interrupted


class HostCallError(Exception):
    """Raised by a :data:`HostCall` handler: the guest gets ``str(error)`` as a waPC error."""


@dataclasses.dataclass
class _Call:
    """The state of the one guest call in progress on this thread."""

    memory: wasmtime.Memory | None
    operation: bytes
    payload: bytes
    host_call: HostCall
    console_log: ConsoleLog
    guest_response: bytes | None = None
    guest_error: bytes | None = None
    host_response: bytes = b""
    host_error: bytes = b""
    fault: str | None = None


_current = threading.local()


def _call() -> _Call | None:
    return getattr(_current, "call", None)


def _read(caller: wasmtime.Caller, call: _Call, ptr: int, length: int) -> bytes:
    assert call.memory is not None
    if length == 0:
        return b""
    data = call.memory.read(caller, ptr, ptr + length)
    if len(data) != length:
        raise IndexError(f"guest pointer {ptr}+{length} is outside its memory")
    return bytes(data)


def _write(caller: wasmtime.Caller, call: _Call, ptr: int, data: bytes) -> None:
    assert call.memory is not None
    if data:
        call.memory.write(caller, data, ptr)


def _guarded(
    default: int | None,
) -> Callable[[Callable[..., int | None]], Callable[..., int | None]]:
    """Run a host function so that it never raises: faults are recorded on the call."""

    def wrap(func: Callable[..., int | None]) -> Callable[..., int | None]:
        def host_function(caller: wasmtime.Caller, *args: int) -> int | None:
            call = _call()
            if call is None or call.memory is None:
                return default
            try:
                return func(caller, call, *args)
            except Exception as error:  # a guest passing bad pointers, or a bug of ours
                call.fault = f"{func.__name__}: {error}"
                return default

        host_function.__name__ = func.__name__
        return host_function

    return wrap


@_guarded(None)
def _guest_request(caller: wasmtime.Caller, call: _Call, op_ptr: int, ptr: int) -> None:
    _write(caller, call, op_ptr, call.operation)
    _write(caller, call, ptr, call.payload)


@_guarded(None)
def _guest_response(caller: wasmtime.Caller, call: _Call, ptr: int, length: int) -> None:
    call.guest_response = _read(caller, call, ptr, length)


@_guarded(None)
def _guest_error(caller: wasmtime.Caller, call: _Call, ptr: int, length: int) -> None:
    call.guest_error = _read(caller, call, ptr, length)


@_guarded(0)
def _host_call(
    caller: wasmtime.Caller,
    call: _Call,
    bd_ptr: int,
    bd_len: int,
    ns_ptr: int,
    ns_len: int,
    op_ptr: int,
    op_len: int,
    ptr: int,
    length: int,
) -> int:
    binding = _read(caller, call, bd_ptr, bd_len).decode("utf-8", errors="replace")
    namespace = _read(caller, call, ns_ptr, ns_len).decode("utf-8", errors="replace")
    operation = _read(caller, call, op_ptr, op_len).decode("utf-8", errors="replace")
    payload = _read(caller, call, ptr, length)
    call.host_response = call.host_error = b""
    try:
        call.host_response = call.host_call(binding, namespace, operation, payload)
    except HostCallError as error:
        call.host_error = str(error).encode()
        return 0
    except Exception as error:  # a capability's bug must not kill the guest call
        call.host_error = f"{namespace} failed: {type(error).__name__}: {error}".encode()
        return 0
    return 1


@_guarded(0)
def _host_response_len(caller: wasmtime.Caller, call: _Call) -> int:
    return len(call.host_response)


@_guarded(None)
def _host_response(caller: wasmtime.Caller, call: _Call, ptr: int) -> None:
    _write(caller, call, ptr, call.host_response)


@_guarded(0)
def _host_error_len(caller: wasmtime.Caller, call: _Call) -> int:
    return len(call.host_error)


@_guarded(None)
def _host_error(caller: wasmtime.Caller, call: _Call, ptr: int) -> None:
    _write(caller, call, ptr, call.host_error)


@_guarded(None)
def _console_log(caller: wasmtime.Caller, call: _Call, ptr: int, length: int) -> None:
    call.console_log(_read(caller, call, ptr, length).decode("utf-8", errors="replace"))


_I32 = wasmtime.ValType.i32()
#: name -> (number of i32 params, returns an i32, implementation)
_HOST_FUNCTIONS: dict[str, tuple[int, bool, Callable[..., int | None]]] = {
    "__guest_request": (2, False, _guest_request),
    "__guest_response": (2, False, _guest_response),
    "__guest_error": (2, False, _guest_error),
    "__host_call": (_HOST_CALL_ARITY, True, _host_call),
    "__host_response_len": (0, True, _host_response_len),
    "__host_response": (1, False, _host_response),
    "__host_error_len": (0, True, _host_error_len),
    "__host_error": (1, False, _host_error),
    "__console_log": (2, False, _console_log),
}


class WapcRuntime:
    """The shared engine, linker and epoch ticker of every actor on a node."""

    def __init__(self, *, tick_seconds: float = 0.01, cache_dir: Path | None = None) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.tick_seconds = tick_seconds
        self.cache_dir = cache_dir
        self._linker = wasmtime.Linker(self.engine)
        for name, (params, returns, func) in _HOST_FUNCTIONS.items():
            ty = wasmtime.FuncType([_I32] * params, [_I32] if returns else [])
            self._linker.define_func(WAPC_MODULE, name, ty, func, access_caller=True)
        self._modules: dict[str, wasmtime.InstancePre] = {}
        self._modules_lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="wapc-epoch", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=1.0)

    def ticks_for(self, timeout_seconds: float) -> int:
        """Epoch ticks for a deadline: one more than the timeout, since a tick may be due now."""
        return max(1, math.ceil(timeout_seconds / self.tick_seconds)) + 1

    def load(self, module_bytes: bytes) -> wasmtime.InstancePre:
        """Compile (or fetch from cache) and link a module.  Blocking: call it in a thread."""
        digest = hashlib.sha256(module_bytes).hexdigest()
        with self._modules_lock:
            cached = self._modules.get(digest)
        if cached is not None:
            return cached
        module = self._compile(module_bytes, digest)
        check_actor_module(module)
        try:
            pre = self._linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as error:
            raise InvalidActorModule(f"cannot link the actor: {_first_line(error)}") from None
        with self._modules_lock:
            return self._modules.setdefault(digest, pre)

    def _compile(self, module_bytes: bytes, digest: str) -> wasmtime.Module:
        cached_file = None
        if self.cache_dir is not None:
            key = f"{digest}-wasmtime{wasmtime_version()}-epoch.cwasm"
            cached_file = self.cache_dir / key
            if cached_file.exists():
                try:
                    return wasmtime.Module.deserialize_file(self.engine, str(cached_file))
                except wasmtime.WasmtimeError:
                    cached_file.unlink(missing_ok=True)
        try:
            module = wasmtime.Module(self.engine, module_bytes)
        except wasmtime.WasmtimeError as error:
            raise InvalidActorModule(f"not a valid wasm module: {_first_line(error)}") from None
        if cached_file is not None:
            cached_file.parent.mkdir(parents=True, exist_ok=True)
            temp = cached_file.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            temp.write_bytes(module.serialize())
            os.replace(temp, cached_file)
        return module

    def instantiate(
        self,
        pre: wasmtime.InstancePre,
        *,
        host_call: HostCall,
        console_log: ConsoleLog,
        init_timeout: float = 1.0,
        memory_limit: int | None = None,
    ) -> WapcInstance:
        """A fresh instance, initialized.  Blocking: call it in a thread."""
        return WapcInstance(self, pre, host_call, console_log, init_timeout, memory_limit)


def check_actor_module(module: wasmtime.Module) -> None:
    """Refuse, with a clear message, modules that are not waPC actors of our ABI."""
    for imp in module.imports:
        where = f"{imp.module}::{imp.name}"
        if imp.module != WAPC_MODULE:
            hint = " (WASI modules run with the wasi provider)" if "wasi" in imp.module else ""
            raise InvalidActorModule(f"the actor imports {where}, which a waPC host lacks{hint}")
        if imp.name not in _HOST_FUNCTIONS:
            raise InvalidActorModule(f"the actor imports {where}, which is not part of waPC")
        ty = imp.type
        if imp.name == "__host_call" and isinstance(ty, wasmtime.FuncType):
            arity = len(ty.params)
            if arity != _HOST_CALL_ARITY:
                raise InvalidActorModule(
                    f"the actor uses the pre-2020 waPC ABI (__host_call with {arity} arguments, "
                    "wapc-guest < 0.3); rebuild it with wapc-guest 0.3+ / wascc-actor 0.7"
                )
    exports = {exp.name for exp in module.exports}
    missing = [name for name in _REQUIRED_EXPORTS if name not in exports]
    if missing:
        raise InvalidActorModule(f"the actor does not export {', '.join(missing)}")


def _first_line(error: BaseException) -> str:
    """The useful line of a wasmtime error: its cause if it has one, else its first line."""
    text = str(getattr(error, "message", None) or error).strip()
    if "Caused by:" in text:
        text = text.rsplit("Caused by:", 1)[1].strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def _trap(error: Exception, call: _Call) -> GuestTrap:
    if call.fault is not None:
        return GuestTrap(f"host fault: {call.fault}")
    code = getattr(error, "trap_code", None)
    if code == wasmtime.TrapCode.INTERRUPT:
        return GuestTrap("the call exceeded its deadline and was interrupted", interrupted=True)
    where = ""
    frames = getattr(error, "frames", None)
    if frames and frames[0].func_name:
        where = f" (in {frames[0].func_name})"
    return GuestTrap(f"{_first_line(error)}{where}")


class WapcInstance:
    """One actor instance in its own store.  Not thread safe: one call at a time."""

    def __init__(
        self,
        runtime: WapcRuntime,
        pre: wasmtime.InstancePre,
        host_call: HostCall,
        console_log: ConsoleLog,
        init_timeout: float,
        memory_limit: int | None,
    ) -> None:
        self._runtime = runtime
        self._host_call = host_call
        self._console_log = console_log
        self.store = wasmtime.Store(runtime.engine)
        if memory_limit is not None:
            self.store.set_limits(memory_size=memory_limit)
        init = _Call(None, b"", b"", host_call, console_log)
        self._enter(init, init_timeout)
        try:
            instance = pre.instantiate(self.store)  # runs a start section, if any
            exports = instance.exports(self.store)
            memory = exports["memory"]
            guest_call = exports["__guest_call"]
            if not isinstance(memory, wasmtime.Memory) or not isinstance(guest_call, wasmtime.Func):
                raise InvalidActorModule(
                    "the actor's memory or __guest_call export has the wrong kind"
                )
            self._memory = memory
            self._guest_call = guest_call
            init.memory = memory
            for name in ("_start", "wapc_init"):
                func = exports.get(name)
                if isinstance(func, wasmtime.Func):
                    func(self.store)
        except wasmtime.WasmtimeError as error:
            raise InvalidActorModule(
                f"the actor failed to initialize: {_first_line(error)}"
            ) from None
        except wasmtime.Trap as error:
            raise InvalidActorModule(
                f"the actor trapped while initializing: {_trap(error, init)}"
            ) from None
        finally:
            _current.call = None

    def memory_bytes(self) -> int:
        """Size of the instance's linear memory (call it where calls run, not concurrently)."""
        return int(self._memory.data_len(self.store))

    def _enter(self, call: _Call, timeout: float) -> None:
        self.store.set_epoch_deadline(self._runtime.ticks_for(timeout))
        _current.call = call

    def call(self, operation: str, payload: bytes, timeout: float) -> bytes:
        """Invoke ``operation``; raises ``GuestError`` or ``GuestTrap``."""
        op = operation.encode()
        call = _Call(self._memory, op, payload, self._host_call, self._console_log)
        self._enter(call, timeout)
        try:
            ok = self._guest_call(self.store, len(op), len(payload))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            raise _trap(error, call) from None
        finally:
            _current.call = None
        if call.fault is not None:
            raise GuestTrap(f"host fault: {call.fault}")
        if ok == 1:
            return call.guest_response if call.guest_response is not None else b""
        message = (call.guest_error or b"the guest call failed").decode("utf-8", errors="replace")
        raise GuestError(message)
