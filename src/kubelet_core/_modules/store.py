"""The node's content-addressed store of wasm modules, shared by every provider.

Layout under ``root`` (``<data_dir>/modules``)::

    blobs/sha256/<hex>   module bytes and manifests, named by their digest
    tmp/<pid>-<rand>.part downloads in progress
    index.json           reference -> manifest digest -> module digest, last use
    .lock                flock'd around every read-modify-write of the index

Why this shape:

* Content addressing makes a second tag of the same module free and makes
  ``imagePullPolicy: Always`` cheap: one HEAD of the manifest, and nothing is
  downloaded when the digest is the one already held.
* A blob only appears under ``blobs/`` by ``os.replace`` of a temp file whose
  size and digest were verified (and fsync'd), so a crash mid-download leaves
  at worst a ``.part`` file that is never read; those of dead processes are
  deleted when a store is opened.
* Concurrent pulls in one process share work through per-reference and
  per-digest ``asyncio`` locks; several processes (the agent and ``wasmlet
  modules import``) share the index through ``flock`` and re-read it before
  each change.  Index I/O is synchronous: it is a few KB, written only when a
  reference or a last-use time changes.
* ``gc(budget)`` drops blobs no reference reaches, then whole modules by least
  recent use until the store fits the budget, sparing the ones in ``keep``
  (modules of running containers) and blobs younger than a minute (another
  process may be about to record them).

Pull policies follow kubelet: ``Always`` asks the registry for the current
digest every time; ``IfNotPresent`` uses a stored reference as is; ``Never``
never touches the network and fails with ``ErrImageNeverPull``.  A reference
by digest is immutable, so once stored it is served locally under any policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from kubelet_core._modules.client import Progress, RegistryClient, sha256_digest
from kubelet_core._modules.credentials import RegistryCredentials
from kubelet_core._modules.oci import (
    INDEX_TYPES,
    OCI_MANIFEST,
    WASM_CONFIG,
    WASM_LAYER,
    WASM_MAGIC,
    Descriptor,
    media_type_of,
    parse_json,
    pick_from_index,
    pick_module_layer,
)
from kubelet_core._modules.reference import ImageReference
from kubelet_core._provider.errors import ImagePullError

PullPolicy = str  # "Always" | "IfNotPresent" | "Never" (containers.runtime.PullPolicy)

_TMP_MAX_AGE = 24 * 3600.0
_GC_GRACE = 60.0


#: How stale the on-disk last-use times may be (they only order LRU GC).
USE_FLUSH_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class StoredModule:
    """A module held in the store under one reference."""

    reference: str  # canonical reference, e.g. "127.0.0.1:5000/hello:v1"
    digest: str  # sha256 of the module bytes (what `sha256sum x.wasm` prints)
    path: Path  # the bytes; read-only, never modified in place
    size: int
    manifest_digest: str  # sha256 of the manifest (the registry's digest for the tag)
    last_used: float = 0.0

    @property
    def image_id(self) -> str:
        """For ``status.containerStatuses[].imageID``: ``registry/repo@sha256:...``."""
        name = ImageReference.parse(self.reference).name
        return f"{name}@{self.manifest_digest}"


@dataclasses.dataclass
class StoreStats:
    """Network work done by this store object (tests and metrics read it)."""

    manifest_requests: int = 0
    blobs_downloaded: int = 0
    bytes_downloaded: int = 0


@dataclasses.dataclass(frozen=True)
class GcResult:
    removed_references: tuple[str, ...]
    removed_blobs: int
    freed_bytes: int
    remaining_bytes: int


class ModuleStore:
    """Pull, import, list, remove and garbage-collect modules under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        insecure_registries: Iterable[str] = (),
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        #: Last-use times not yet written to the index.  A cached pull happens on
        #: every container start; writing the index each time (flock, read,
        #: parse, write, rename on the event loop) cost 13-18 % of the agent's
        #: CPU in the start benchmark, and LRU GC only needs minute precision.
        self._unflushed_use: dict[str, float] = {}
        self._last_use_flush = 0.0
        self.tmp = self.root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._index_path = self.root / "index.json"
        #: The parsed index and the identity of the file it came from.  Every
        #: container start asks ``get`` (a cached pull); the index is only ever
        #: replaced by a rename, so an unchanged (inode, size, mtime) means an
        #: unchanged index and one ``stat`` replaces a read and a JSON parse.
        self._index_cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        self._lock_path = self.root / ".lock"
        self.insecure_registries = tuple(insecure_registries)
        self._timeout = timeout or aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
        self._locks: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._client: RegistryClient | None = None
        self.stats = StoreStats()
        self._clean_tmp()

    # -- public API ----------------------------------------------------------------

    async def pull(
        self,
        reference: str,
        policy: PullPolicy = "IfNotPresent",
        credentials: RegistryCredentials | None = None,
        *,
        progress: Progress | None = None,
    ) -> StoredModule:
        """Make ``reference`` available locally according to ``policy``; see module doc."""
        ref = ImageReference.parse(reference)
        key = str(ref)
        local = self.get(key)
        if policy == "Never":
            if local is None:
                raise ImagePullError(
                    f'container image "{reference}" is not present with pull policy of Never',
                    reason="ErrImageNeverPull",
                )
            return self._touch(local)
        if policy not in ("Always", "IfNotPresent"):
            raise ImagePullError(f"unknown imagePullPolicy {policy!r}", retryable=False)
        if local is not None and (policy == "IfNotPresent" or ref.digest):
            return self._touch(local)
        async with self._lock(f"ref:{key}"):
            return await self._pull_locked(ref, policy, credentials, progress)

    async def import_file(self, path: Path, reference: str) -> StoredModule:
        """Store a local ``.wasm`` under ``reference`` (like ``kind load``), no registry."""
        ref = ImageReference.parse(reference)
        data = await asyncio.to_thread(Path(path).read_bytes)
        if not data.startswith(WASM_MAGIC):
            raise ImagePullError(f"{path} is not a wasm module (no \\0asm magic)", retryable=False)
        digest = sha256_digest(data)
        async with self._lock(f"blob:{digest}"):
            if not self._blob_ok(digest, len(data)):
                await asyncio.to_thread(self._write_blob, digest, data)
        manifest = synthetic_manifest(Descriptor(WASM_LAYER, digest, len(data)))
        manifest_digest = sha256_digest(manifest)
        if not self._blob_ok(manifest_digest, len(manifest)):
            self._write_blob(manifest_digest, manifest)
        self._record(str(ref), manifest_digest, digest, len(data))
        found = self.get(str(ref))
        assert found is not None
        return found

    def get(self, reference: str) -> StoredModule | None:
        """The stored module for ``reference`` (canonicalized), or None; no network."""
        try:
            key = str(ImageReference.parse(reference))
        except ImagePullError:
            key = reference
        index = self._index_snapshot()
        entry = index["refs"].get(key)
        if entry is None:
            return None
        return self._resolve(index, key, entry["manifest"])

    async def list(self) -> list[StoredModule]:
        self._flush_use()
        index = self._read_index()
        found = (
            self._resolve(index, key, entry["manifest"]) for key, entry in index["refs"].items()
        )
        return sorted((m for m in found if m is not None), key=lambda m: m.reference)

    async def remove(self, reference: str) -> bool:
        """Forget ``reference``; its bytes are deleted by the next :meth:`gc`."""
        try:
            key = str(ImageReference.parse(reference))
        except ImagePullError:
            key = reference
        with self._locked_index() as index:
            return index["refs"].pop(key, None) is not None

    async def gc(self, budget_bytes: int | None = None, *, keep: Iterable[str] = ()) -> GcResult:
        """Delete unreferenced blobs, then LRU modules until the store fits ``budget_bytes``.

        ``keep`` holds module digests that must stay (running containers).
        """
        self._flush_use()
        kept = set(keep)
        removed_refs: list[str] = []
        with self._locked_index() as index:
            refs, manifests = index["refs"], index["manifests"]

            def module_sizes() -> dict[str, int]:
                sizes: dict[str, int] = {}
                for entry in refs.values():
                    info = manifests.get(entry["manifest"])
                    if info:
                        sizes[info["module"]] = info["size"]
                return sizes

            if budget_bytes is not None:
                while True:
                    sizes = module_sizes()
                    if sum(sizes.values()) <= budget_bytes:
                        break
                    candidates = [d for d in sizes if d not in kept]
                    if not candidates:
                        break
                    victim = min(candidates, key=lambda d: index["used"].get(d, 0.0))
                    for key in [k for k, e in refs.items() if _module_of(index, e) == victim]:
                        del refs[key]
                        removed_refs.append(key)
            live_manifests = {entry["manifest"] for entry in refs.values()}
            for digest in list(manifests):
                if digest not in live_manifests:
                    del manifests[digest]
            live = live_manifests | {manifests[d]["module"] for d in live_manifests} | kept
            for digest in list(index["used"]):
                if digest not in live:
                    del index["used"][digest]
            removed, freed, remaining = 0, 0, 0
            now = time.time()
            for blob in self.blobs.iterdir():
                try:
                    stat = blob.stat()
                except FileNotFoundError:
                    continue  # removed by another process's gc meanwhile
                if f"sha256:{blob.name}" in live or now - stat.st_mtime < _GC_GRACE:
                    remaining += stat.st_size
                    continue
                blob.unlink(missing_ok=True)
                removed += 1
                freed += stat.st_size
        return GcResult(tuple(removed_refs), removed, freed, remaining)

    async def push(
        self,
        path: Path,
        reference: str,
        credentials: RegistryCredentials | None = None,
    ) -> str:
        """Push a local ``.wasm`` to a registry in the wasm-to-oci shape; returns the digest.

        For tests and tooling; the agent only pulls.
        """
        ref = ImageReference.parse(reference)
        data = await asyncio.to_thread(Path(path).read_bytes)
        client = self._registry()
        config = await client.push_blob(ref, b"{}", WASM_CONFIG, credentials)
        layer = await client.push_blob(ref, data, WASM_LAYER, credentials)
        body = synthetic_manifest(layer, config)
        return await client.push_manifest(ref, body, OCI_MANIFEST, credentials)

    async def aclose(self) -> None:
        """Close the HTTP session (the store stays usable; a new one opens on demand)."""
        self._flush_use()
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    # -- pulling -------------------------------------------------------------------

    async def _pull_locked(
        self,
        ref: ImageReference,
        policy: PullPolicy,
        creds: RegistryCredentials | None,
        progress: Progress | None,
    ) -> StoredModule:
        key = str(ref)
        local = self.get(key)
        if local is not None and (policy == "IfNotPresent" or ref.digest):
            return self._touch(local)  # a concurrent pull stored it while we waited
        client = self._registry()
        if local is not None:
            self.stats.manifest_requests += 1
            remote = await client.head_manifest(ref, creds)
            if remote == local.manifest_digest:
                return self._touch(local)
        self.stats.manifest_requests += 1
        manifest_digest, content_type, body = await client.get_manifest(ref, creds)
        manifest = parse_json(body, f"manifest of {ref}")
        if media_type_of(manifest, content_type) in INDEX_TYPES:
            entry = pick_from_index(manifest, key)
            self.stats.manifest_requests += 1
            manifest_digest, content_type, body = await client.get_manifest(
                ref, creds, key=entry.digest
            )
            if len(body) != entry.size:
                raise ImagePullError(
                    f"size mismatch for manifest {entry.digest} of {ref}: "
                    f"got {len(body)} bytes, the index declares {entry.size}"
                )
            manifest = parse_json(body, f"manifest of {ref}")
        index = self._read_index()
        known = index["manifests"].get(manifest_digest)
        if known is not None and self._blob_ok(known["module"], known["size"]):
            self._record(key, manifest_digest, known["module"], known["size"])
        else:
            layer = pick_module_layer(manifest, key).layer
            await self._download(client, ref, layer, creds, progress)
            if not self._blob_ok(manifest_digest, len(body)):
                self._write_blob(manifest_digest, body)
            self._record(key, manifest_digest, layer.digest, layer.size)
        found = self.get(key)
        assert found is not None
        return found

    async def _download(
        self,
        client: RegistryClient,
        ref: ImageReference,
        layer: Descriptor,
        creds: RegistryCredentials | None,
        progress: Progress | None,
    ) -> None:
        async with self._lock(f"blob:{layer.digest}"):
            if self._blob_ok(layer.digest, layer.size):
                return
            part = self.tmp / f"{os.getpid()}-{secrets.token_hex(6)}.part"
            try:
                head = await client.fetch_blob(ref, layer, part, creds, progress)
                if not head.startswith(WASM_MAGIC):
                    raise ImagePullError(
                        f"{ref} is not a wasm module: layer {layer.digest} "
                        f"({layer.media_type}) does not start with \\0asm",
                        retryable=False,
                    )
                self.stats.blobs_downloaded += 1
                self.stats.bytes_downloaded += layer.size
                _fsync(part)
                os.replace(part, self._blob_path(layer.digest))
            finally:
                part.unlink(missing_ok=True)

    def _registry(self) -> RegistryClient:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._client = RegistryClient(
                self._session, insecure_registries=self.insecure_registries
            )
        assert self._client is not None
        return self._client

    @contextlib.asynccontextmanager
    async def _lock(self, name: str) -> AsyncIterator[None]:
        key = (id(asyncio.get_running_loop()), name)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    # -- blobs and index -----------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        return self.blobs / digest.removeprefix("sha256:")

    def _blob_ok(self, digest: str, size: int) -> bool:
        try:
            return self._blob_path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def _write_blob(self, digest: str, data: bytes) -> None:
        part = self.tmp / f"{os.getpid()}-{secrets.token_hex(6)}.part"
        try:
            part.write_bytes(data)
            _fsync(part)
            os.replace(part, self._blob_path(digest))
        finally:
            part.unlink(missing_ok=True)

    def _resolve(self, index: dict[str, Any], key: str, manifest: str) -> StoredModule | None:
        info = index["manifests"].get(manifest)
        if info is None or not self._blob_ok(info["module"], info["size"]):
            return None
        return StoredModule(
            reference=key,
            digest=info["module"],
            path=self._blob_path(info["module"]),
            size=info["size"],
            manifest_digest=manifest,
            last_used=index["used"].get(info["module"], 0.0),
        )

    def _record(self, key: str, manifest: str, module: str, size: int) -> None:
        with self._locked_index() as index:
            index["refs"][key] = {"manifest": manifest, "updated": time.time()}
            index["manifests"][manifest] = {"module": module, "size": size}
            index["used"][module] = time.time()

    def _touch(self, module: StoredModule) -> StoredModule:
        now = time.time()
        self._unflushed_use[module.digest] = now
        if now - self._last_use_flush >= USE_FLUSH_SECONDS:
            self._flush_use()
        return dataclasses.replace(module, last_used=now)

    def _flush_use(self) -> None:
        """Write the remembered last-use times into the index (one locked rewrite)."""
        self._last_use_flush = time.time()
        if not self._unflushed_use:
            return
        pending, self._unflushed_use = self._unflushed_use, {}
        with self._locked_index() as index:
            for digest, used in pending.items():
                index["used"][digest] = max(used, float(index["used"].get(digest, 0)))

    def _index_snapshot(self) -> dict[str, Any]:
        """The index, for reading only: parsed again only when the file was replaced."""
        try:
            info = self._index_path.stat()
        except FileNotFoundError:
            return self._read_index()
        identity = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._index_cache
        if cached is not None and cached[0] == identity:
            return cached[1]
        index = self._read_index()
        self._index_cache = (identity, index)
        return index

    def _read_index(self) -> dict[str, Any]:
        try:
            data = json.loads(self._index_path.read_text())
        except FileNotFoundError:
            data = {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}  # a torn index cannot happen (atomic replace); a hand-edited one can
        for section in ("refs", "manifests", "used"):
            if not isinstance(data.get(section), dict):
                data[section] = {}
        return data  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _locked_index(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the index under an exclusive flock, replacing it atomically."""
        with self._lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                index = self._read_index()
                yield index
                part = self.tmp / f"index-{os.getpid()}-{secrets.token_hex(4)}.part"
                part.write_text(json.dumps(index, sort_keys=True))
                os.replace(part, self._index_path)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _clean_tmp(self) -> None:
        """Delete leftovers of downloads whose process is gone (a crash mid-pull)."""
        now = time.time()
        for part in self.tmp.glob("*.part"):
            pid_text = part.name.removeprefix("index-").split("-", 1)[0]
            try:
                alive = _pid_alive(int(pid_text))
            except ValueError:
                alive = False
            try:
                if not alive or now - part.stat().st_mtime > _TMP_MAX_AGE:
                    part.unlink(missing_ok=True)
            except FileNotFoundError:
                pass


def synthetic_manifest(layer: Descriptor, config: Descriptor | None = None) -> bytes:
    """A wasm-to-oci image manifest for one module (canonical JSON, so digests are stable)."""
    config = config or Descriptor(WASM_CONFIG, sha256_digest(b"{}"), 2)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def _module_of(index: dict[str, Any], entry: dict[str, Any]) -> str | None:
    info = index["manifests"].get(entry["manifest"])
    return str(info["module"]) if info else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
