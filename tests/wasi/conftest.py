"""Fixtures for the WASI provider: a started WasiProvider with the test modules imported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelet_core._provider.base import LogOptions, ProviderContext
from tests.containers.conftest import FAST, Recorder, make_context
from tests.fixtures.registry import auth_registry, registry, token_registry
from wasmlet_wasi.provider import WasiProvider
from wasmlet_wasi.runtime import ModuleHosts

__all__ = ["auth_registry", "registry", "token_registry"]

WASM_DIR = Path(__file__).resolve().parents[2] / "testdata" / "wasm"
MODULES = ("hello", "ticker", "spin", "memhog", "writer", "scripted", "reactor", "badimport")


async def read_log(prov: WasiProvider, pod: str, name: str) -> bytes:
    """The container's current log, as ``kubectl logs`` would get it."""
    chunks = [c async for c in prov.container_logs("default", pod, name, LogOptions())]
    return b"".join(chunks)


def image(name: str) -> str:
    """The reference under which the fixture imports testdata/wasm/<name>.wasm."""
    return f"wasmlet.test/{name}:v1"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def context(tmp_path: Path, recorder: Recorder) -> ProviderContext:
    return make_context(tmp_path, recorder, "wasi-node")


@pytest.fixture
async def provider(context: ProviderContext) -> AsyncIterator[WasiProvider]:
    prov = WasiProvider(timings=FAST)
    await prov.start(context)
    assert prov.modules is not None
    for name in MODULES:
        await prov.modules.import_file(WASM_DIR / f"{name}.wasm", image(name))
    # Not a module: stored under a reference anyway, as if a registry had served it.
    await _import_raw(prov, WASM_DIR / "notwasm.wasm", image("notwasm"))
    yield prov
    await prov.shutdown()


async def _import_raw(prov: WasiProvider, path: Path, reference: str) -> None:
    """Put non-wasm bytes in the store (import_file refuses them, as it should)."""
    import hashlib

    from kubelet_core._modules.oci import WASM_LAYER, Descriptor
    from kubelet_core._modules.store import synthetic_manifest

    store = prov.modules
    assert store is not None
    data = path.read_bytes()  # noqa: ASYNC240
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store._write_blob(digest, data)
    manifest = synthetic_manifest(Descriptor(WASM_LAYER, digest, len(data)))
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    store._write_blob(manifest_digest, manifest)
    store._record(reference, manifest_digest, digest, len(data))


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[ModuleHosts]:
    """A zygote of its own, for driving module hosts as the provider does."""
    pool = ModuleHosts(tmp_path / "compiled")
    await pool.start()
    yield pool
    await pool.close()
