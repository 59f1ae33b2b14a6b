"""The one wasmtime engine of a provider's zygote: configuration, WASI linker, module loading.

The engine lives in the zygote (:mod:`wasmlet_wasi.zygote`), and every module
host is forked from it: compiled code, the linker and ``InstancePre`` objects
are shared copy-on-write by every pod of a module.

Configuration.  ``epoch_interruption`` lets a host with a CPU limit or budget
check its clock from the epoch-deadline callback (:mod:`wasmlet_wasi.guest`).
Linear memories are not given wasmtime's default multi-GiB virtual
reservation: each module host runs under ``RLIMIT_AS`` (its memory limit plus
an allowance for the runtime), which a 4 GiB reservation per memory would
exceed at once; memories reserve :data:`GROWTH_RESERVATION` ahead and move
when they grow past it, with explicit bounds checks.  The settings are part
of :attr:`WasmEngine.fingerprint`, so serialized modules of another
configuration are never loaded.

Loading: a module is compiled once per zygote (kept in memory, keyed by the
SHA-256 of its bytes) and serialized to :class:`~wasmlet_wasi.cache.CompiledModuleCache`
under the data dir, so a restarted agent loads it in about a millisecond.
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

from kubelet_core import ContainerStartError

#: Address space a linear memory reserves ahead of its size (it moves when it outgrows it).
GROWTH_RESERVATION = 1 << 20
#: Guard region after a linear memory.
GUARD_SIZE = 64 << 10
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
    """Engine + linker + compiled-module caches (memory and disk)."""

    def __init__(self, cache_dir: Path | None = None, *, memory_cache_size: int = 64) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.memory_reservation = 0
        config.memory_guard_size = GUARD_SIZE
        config.memory_reservation_for_growth = GROWTH_RESERVATION
        config.parallel_compilation = False  # the zygote stays single-threaded, so fork is safe
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.version = wasmtime_version()
        self.fingerprint = (
            f"wasmtime={self.version};epoch_interruption=1;wasi=preview1;"
            f"reservation=0;guard={GUARD_SIZE};growth={GROWTH_RESERVATION}"
        )
        from wasmlet_wasi.cache import CompiledModuleCache

        self.disk_cache = CompiledModuleCache(cache_dir, self.fingerprint) if cache_dir else None
        self._memory: collections.OrderedDict[str, LoadedModule] = collections.OrderedDict()
        self._memory_size = memory_cache_size
        self._load_lock = threading.Lock()
        self._digests: dict[tuple[str, int, int, int], str] = {}

    # -- modules -------------------------------------------------------------------

    def lookup(self, path: Path) -> Lookup:
        """The module file's digest and bytes, and its compiled form if a cache has it.

        Store files are content-addressed and never rewritten in place, so the
        file's identity (inode, size, mtime) stands for its digest: a file seen
        before is neither re-read nor re-hashed.  ContainerStartError if it
        cannot be read or is not wasm.
        """
        started = time.perf_counter()
        try:
            info = path.stat()
            key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
            digest = self._digests.get(key)
            if digest is not None and digest in self._memory:
                self._memory.move_to_end(digest)
                return Lookup(
                    digest,
                    b"",
                    dataclasses.replace(self._memory[digest], source="memory", seconds=0.0),
                )
            data = path.read_bytes()
        except OSError as exc:
            raise ContainerStartError(f"cannot read module {path}: {exc.strerror or exc}") from None
        digest = _digest(data)
        self._digests[key] = digest
        loaded = self._cached(digest, started)
        return Lookup(digest, data, loaded)

    def compile_serialized(self, data: bytes) -> bytes:
        """Compile ``data`` and return its serialized form (run in a confined worker)."""
        try:
            return bytes(wasmtime.Module(self.engine, data).serialize())
        except wasmtime.WasmtimeError as exc:
            raise ContainerStartError(f"invalid wasm module: {first_line(exc)}") from None

    def adopt(self, digest: str, serialized: bytes, seconds: float) -> LoadedModule:
        """Load a module a worker compiled; cache it on disk and in memory."""
        try:
            module = wasmtime.Module.deserialize(self.engine, serialized)
        except wasmtime.WasmtimeError as exc:
            raise ContainerStartError(
                f"cannot load the compiled module: {first_line(exc)}"
            ) from None
        if self.disk_cache is not None:
            self.disk_cache.save_serialized(digest, serialized)
        return self._remember(digest, module, "compiled", seconds)

    def load(self, data: bytes) -> LoadedModule:
        """Compile (or fetch from a cache) the module in ``data``, in this process."""
        digest = _digest(data)
        started = time.perf_counter()
        with self._load_lock:
            loaded = self._cached(digest, started)
            if loaded is not None:
                return loaded
            serialized = self.compile_serialized(data)
            module = wasmtime.Module.deserialize(self.engine, serialized)
            if self.disk_cache is not None:
                self.disk_cache.save_serialized(digest, serialized)
            return self._remember(digest, module, "compiled", time.perf_counter() - started)

    def _cached(self, digest: str, started: float) -> LoadedModule | None:
        loaded = self._memory.get(digest)
        if loaded is not None:
            self._memory.move_to_end(digest)
            return dataclasses.replace(
                loaded, source="memory", seconds=time.perf_counter() - started
            )
        module = self.disk_cache.load(self.engine, digest) if self.disk_cache else None
        if module is None:
            return None
        return self._remember(digest, module, "disk", time.perf_counter() - started)

    def _remember(
        self, digest: str, module: wasmtime.Module, source: str, seconds: float
    ) -> LoadedModule:
        check_runnable(module)
        pre = self.linker.instantiate_pre(module)
        loaded = LoadedModule(digest, module, pre, source, seconds)
        self._memory[digest] = loaded
        while len(self._memory) > self._memory_size:
            self._memory.popitem(last=False)
        return loaded


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What :meth:`WasmEngine.lookup` found: ``loaded`` is None when it must be compiled."""

    digest: str
    data: bytes
    loaded: LoadedModule | None


def _digest(data: bytes) -> str:
    if not data.startswith(WASM_MAGIC):
        preview = data[:16]
        raise ContainerStartError(
            f"not a wasm module: the image's bytes do not start with \\0asm ({preview!r})"
        )
    return "sha256:" + hashlib.sha256(data).hexdigest()


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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if "Caused by:" in text:
        text = text.split("Caused by:", 1)[1].strip()
    return " ".join(line.strip() for line in text.splitlines()[:3] if line.strip())
