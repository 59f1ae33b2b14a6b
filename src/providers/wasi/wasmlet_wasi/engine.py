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

Components.  A file whose binary header says *component* (layer 1, see
:func:`is_component`) is a WASI 0.2 ``wasi:cli/command`` component, loaded as
a :class:`wasmtime.component.Component` and linked with ``add_wasip2()``
(plus ``add_wasi_http()`` for a pod granted outgoing HTTP:
:attr:`WasmEngine.http_linker`); everything else about it -- the caches, the
confined compiler, the hosts -- is the module's path, keyed the same way.

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
from wasmtime import component as wasm_component

from kubelet_core import ContainerStartError

#: Address space a linear memory reserves ahead of its size (it moves when it outgrows it).
GROWTH_RESERVATION = 1 << 20
#: Guard region after a linear memory.
GUARD_SIZE = 64 << 10
WASI_MODULES = {"wasi_snapshot_preview1"}
WASM_MAGIC = b"\0asm"
#: Bytes 4..8 of a component: version 0x0d, layer 1 (a core module has version 1, layer 0).
COMPONENT_VERSION = b"\x0d\x00\x01\x00"
#: The export a ``wasi:cli/command`` component runs (any 0.2.x version).
RUN_INTERFACE = "wasi:cli/run@0.2"
#: WASI 0.2 packages the host implements (``add_wasip2`` and ``add_wasi_http``).
WASIP2_PACKAGES = (
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
)
HTTP_PACKAGE = "wasi:http/"


def wasmtime_version() -> str:
    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored build
        return "unknown"


def is_component(data: bytes) -> bool:
    """A component, by its binary header (not by a name or a media type)."""
    return data[4:8] == COMPONENT_VERSION


@dataclasses.dataclass(frozen=True)
class LoadedModule:
    """A compiled module or component, ready to instantiate in a forked host."""

    digest: str
    module: wasmtime.Module | wasm_component.Component
    pre: wasmtime.InstancePre | None  # None for a component (linked per pod: its grants)
    source: str  # "memory", "disk" or "compiled"
    seconds: float  # time spent getting it
    imports: tuple[str, ...] = ()  # a component's imported interfaces
    run_export: str = ""  # a component's wasi:cli/run instance name

    @property
    def is_component(self) -> bool:
        return isinstance(self.module, wasm_component.Component)

    @property
    def needs_http(self) -> bool:
        return any(name.startswith(HTTP_PACKAGE) for name in self.imports)


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
        self.component_linker = wasm_component.Linker(self.engine)
        self.component_linker.add_wasip2()
        self.http_linker = wasm_component.Linker(self.engine)
        self.http_linker.add_wasip2()
        self.http_linker.add_wasi_http()
        self.version = wasmtime_version()
        self.fingerprint = (
            f"wasmtime={self.version};epoch_interruption=1;wasi=preview1+0.2;"
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
        loaded = self._cached(digest, started, is_component(data))
        return Lookup(digest, data, loaded)

    def resident(self, digest: str) -> LoadedModule | None:
        """The module of ``digest`` if this process holds it compiled (nothing reordered).

        A read only: the forker (:mod:`wasmlet_wasi.zygote`) looks its modules up
        here without writing to a page it shares with the hosts it forks.
        """
        return self._memory.get(digest)

    def resident_digests(self) -> frozenset[str]:
        """The digests of every module this process holds compiled."""
        return frozenset(self._memory)

    def compile_serialized(self, data: bytes) -> bytes:
        """Compile ``data`` and return its serialized form (run in a confined worker)."""
        try:
            if is_component(data):
                return bytes(wasm_component.Component(self.engine, data).serialize())
            return bytes(wasmtime.Module(self.engine, data).serialize())
        except wasmtime.WasmtimeError as exc:
            kind = "component" if is_component(data) else "module"
            raise ContainerStartError(f"invalid wasm {kind}: {first_line(exc)}") from None

    def adopt(
        self, digest: str, serialized: bytes, seconds: float, *, component: bool = False
    ) -> LoadedModule:
        """Load a module (or component) a worker compiled; cache it on disk and in memory."""
        try:
            module = deserialize(self.engine, serialized, component)
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
            loaded = self._cached(digest, started, is_component(data))
            if loaded is not None:
                return loaded
            serialized = self.compile_serialized(data)
            module = deserialize(self.engine, serialized, is_component(data))
            if self.disk_cache is not None:
                self.disk_cache.save_serialized(digest, serialized)
            return self._remember(digest, module, "compiled", time.perf_counter() - started)

    def _cached(self, digest: str, started: float, component: bool) -> LoadedModule | None:
        loaded = self._memory.get(digest)
        if loaded is not None:
            self._memory.move_to_end(digest)
            return dataclasses.replace(
                loaded, source="memory", seconds=time.perf_counter() - started
            )
        cache = self.disk_cache
        module = cache.load(self.engine, digest, component=component) if cache else None
        if module is None:
            return None
        return self._remember(digest, module, "disk", time.perf_counter() - started)

    def _remember(
        self,
        digest: str,
        module: wasmtime.Module | wasm_component.Component,
        source: str,
        seconds: float,
    ) -> LoadedModule:
        if isinstance(module, wasm_component.Component):
            imports, run_export = check_runnable_component(self.engine, module)
            loaded = LoadedModule(digest, module, None, source, seconds, imports, run_export)
        else:
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


def deserialize(
    engine: wasmtime.Engine, serialized: bytes, component: bool
) -> wasmtime.Module | wasm_component.Component:
    if component:
        return wasm_component.Component.deserialize(engine, serialized)
    return wasmtime.Module.deserialize(engine, serialized)


def check_runnable_component(
    engine: wasmtime.Engine, component: wasm_component.Component
) -> tuple[tuple[str, ...], str]:
    """A ``wasi:cli/command``: exports ``wasi:cli/run`` and imports only WASI 0.2.

    Returns its imported interfaces and the name of its run export.  Imports
    the host does not implement are named in the error, as a container state
    a user can act on, rather than as a link error at instantiation.
    """
    component_type = component.type
    imports = tuple(component_type.imports(engine))
    provided = (*WASIP2_PACKAGES, HTTP_PACKAGE)
    foreign = [name for name in imports if not name.startswith(provided) or "@0.2" not in name]
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise ContainerStartError(
            f"component imports {shown}, which the WASI provider does not provide "
            "(it provides WASI 0.2: wasi:cli, clocks, filesystem, io, random, sockets, http)"
        )
    runs = [name for name in component_type.exports(engine) if name.startswith(RUN_INTERFACE)]
    if not runs:
        raise ContainerStartError(
            "component exports no wasi:cli/run: it is not a wasi:cli/command component"
        )
    return imports, runs[0]


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
