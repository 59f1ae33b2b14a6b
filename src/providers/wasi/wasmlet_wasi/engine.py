"""The one wasmtime engine of a provider: epoch ticker, WASI linker, module loading.

One ``Engine`` serves every pod: compiled modules are shared between stores
of the same engine, and epoch interruption is an engine-wide clock.

Epoch semantics.  The engine is built with ``epoch_interruption``; a ticker
thread increments the epoch every :data:`TICK` (10 ms).  Each store arms a
deadline a few ticks ahead and installs a deadline *callback* (see
:mod:`wasmlet_wasi.runtime`); wasm checks the epoch at function entries and
loop back-edges, so the callback runs on the module's own thread at most a
tick or so after the deadline while the module executes wasm, and never while
it is blocked in a WASI call or idle.  To stop a module promptly, the epoch is
bumped several ticks at once (:meth:`WasmEngine.kick`); every running store
then reaches its deadline, the stopping one traps, the others re-arm.  The
ticker runs only while some module runs.

Loading: a module is compiled once per process (kept in memory, keyed by the
SHA-256 of its bytes) and serialized to :class:`~wasmlet_wasi.cache.CompiledModuleCache`
under the data dir, so a restarted agent loads it in about a millisecond.
Loading holds a lock: fifty pods of one module compile it once.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import importlib.metadata
import threading
import time
from pathlib import Path

import wasmtime

from kubelet_core.provider.errors import ContainerStartError

TICK = 0.010
#: Epoch ticks a stop adds at once: more than any store's deadline delta.
KICK_TICKS = 8
WASI_MODULES = {"wasi_snapshot_preview1"}
WASM_MAGIC = b"\0asm"


def wasmtime_version() -> str:
    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored build
        return "unknown"


@dataclasses.dataclass(frozen=True)
class LoadedModule:
    digest: str
    module: wasmtime.Module
    pre: wasmtime.InstancePre
    source: str  # "memory", "disk" or "compiled"
    seconds: float  # time spent getting it


class WasmEngine:
    """Engine + linker + ticker + compiled-module caches (memory and disk)."""

    def __init__(self, cache_dir: Path | None = None, *, memory_cache_size: int = 64) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.version = wasmtime_version()
        self.fingerprint = f"wasmtime={self.version};epoch_interruption=1;wasi=preview1"
        from wasmlet_wasi.cache import CompiledModuleCache

        self.disk_cache = CompiledModuleCache(cache_dir, self.fingerprint) if cache_dir else None
        self._memory: collections.OrderedDict[str, LoadedModule] = collections.OrderedDict()
        self._memory_size = memory_cache_size
        self._load_lock = threading.Lock()
        self._ticker_lock = threading.Lock()
        self._running = 0
        self._wake = threading.Condition(self._ticker_lock)
        self._ticker: threading.Thread | None = None
        self._closed = False

    # -- epoch clock -----------------------------------------------------------------

    def acquire_ticker(self) -> None:
        """A module starts running: make sure the epoch ticks."""
        with self._ticker_lock:
            self._running += 1
            if self._ticker is None or not self._ticker.is_alive():
                self._ticker = threading.Thread(
                    target=self._tick, name="wasi-epoch-ticker", daemon=True
                )
                self._ticker.start()
            self._wake.notify_all()

    def release_ticker(self) -> None:
        with self._ticker_lock:
            self._running -= 1

    def _tick(self) -> None:
        while True:
            with self._ticker_lock:
                while self._running <= 0 and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
            time.sleep(TICK)
            self.engine.increment_epoch()

    def kick(self) -> None:
        """Bring every running store to its deadline now (used by stop)."""
        for _ in range(KICK_TICKS):
            self.engine.increment_epoch()

    def close(self) -> None:
        with self._ticker_lock:
            self._closed = True
            self._wake.notify_all()

    # -- modules -------------------------------------------------------------------

    def load(self, data: bytes) -> LoadedModule:
        """Compile (or fetch from a cache) the module in ``data``; raise ContainerStartError."""
        if not data.startswith(WASM_MAGIC):
            preview = data[:16]
            raise ContainerStartError(
                f"not a wasm module: the image's bytes do not start with \\0asm ({preview!r})"
            )
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = time.perf_counter()
        with self._load_lock:
            loaded = self._memory.get(digest)
            if loaded is not None:
                self._memory.move_to_end(digest)
                return dataclasses.replace(
                    loaded, source="memory", seconds=time.perf_counter() - started
                )
            module = self.disk_cache.load(self.engine, digest) if self.disk_cache else None
            source = "disk"
            if module is None:
                source = "compiled"
                try:
                    module = wasmtime.Module(self.engine, data)
                except wasmtime.WasmtimeError as exc:
                    raise ContainerStartError(f"invalid wasm module: {_first_line(exc)}") from None
                if self.disk_cache is not None:
                    self.disk_cache.save(digest, module)
            check_runnable(module)
            pre = self.linker.instantiate_pre(module)
            loaded = LoadedModule(digest, module, pre, source, time.perf_counter() - started)
            self._memory[digest] = loaded
            while len(self._memory) > self._memory_size:
                self._memory.popitem(last=False)
            return loaded


def check_runnable(module: wasmtime.Module) -> None:
    """A WASI command: exports ``_start`` and imports nothing but WASI preview 1."""
    foreign = [
        f"{imp.module}::{imp.name}" for imp in module.imports if imp.module not in WASI_MODULES
    ]
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise ContainerStartError(
            f"module imports {shown}, which the WASI provider does not provide "
            "(only wasi_snapshot_preview1 is available)"
        )
    start = [exp for exp in module.exports if exp.name == "_start"]
    if not start or not isinstance(start[0].type, wasmtime.FuncType):
        raise ContainerStartError(
            "module has no _start export: it is a library (reactor) module, not a WASI command"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if "Caused by:" in text:
        text = text.split("Caused by:", 1)[1].strip()
    return " ".join(line.strip() for line in text.splitlines()[:3] if line.strip())
