"""ModuleStore against a real docker-registry: policies, errors, auth, concurrency, GC."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path

import pytest

from kubelet_core._modules import ModuleStore, RegistryCredentials
from kubelet_core._provider.errors import ImagePullError
from tests.fixtures.registry import RegistryProcess

pytestmark = pytest.mark.needs_registry


def _repo(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = ModuleStore(tmp_path / "modules")
    yield store
    await store.aclose()


async def test_pull_by_tag_and_digest(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    hello = wasm_dir / "hello.wasm"
    repo = _repo("hello")
    manifest_digest = await registry.push(hello, f"{repo}:v1")
    module = await store.pull(f"{registry.host}/{repo}:v1", "IfNotPresent")
    assert module.path.read_bytes() == hello.read_bytes()
    assert module.digest == "sha256:" + hashlib.sha256(hello.read_bytes()).hexdigest()
    assert module.manifest_digest == manifest_digest
    assert module.image_id == f"{registry.host}/{repo}@{manifest_digest}"
    by_digest = await store.pull(f"{registry.host}/{repo}@{manifest_digest}", "Always")
    assert by_digest.digest == module.digest
    assert store.stats.blobs_downloaded == 1  # same module, not downloaded twice
    listed = {m.reference for m in await store.list()}
    assert listed == {f"{registry.host}/{repo}:v1", f"{registry.host}/{repo}@{manifest_digest}"}


async def test_cncf_wasm_artifact_layout_pulls(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    """The CNCF TAG-Runtime layout (wasm-pkg-tools, containerd's wasm shims) pulls.

    Config ``application/vnd.wasm.config.v0+json``, the component in an
    ``application/wasm`` layer, here beside another layer, so it is picked
    by its media type and not as a lone layer.
    """
    component = (wasm_dir.parent / "components" / "hello.wasm").read_bytes()
    repo = _repo("cncf")
    await registry.push_manifest(
        f"{repo}:v1",
        [(b"package wasmlet:testdata;", "application/wit"), (component, "application/wasm")],
        config_media_type="application/vnd.wasm.config.v0+json",
    )
    module = await store.pull(f"{registry.host}/{repo}:v1", "IfNotPresent")
    assert module.path.read_bytes() == component


async def test_oras_pushed_module_pulls(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path, tmp_path: Path
) -> None:
    """A module pushed by oras-py (the wasm-to-oci shape of the ecosystem) pulls."""
    import oras.client as oras_client  # test extra: always installed, never skipped

    repo = _repo("oras")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "module.wasm").write_bytes((wasm_dir / "spin.wasm").read_bytes())

    def push() -> None:
        client = oras_client.OrasClient(hostname=registry.host, insecure=True)
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            client.push(
                target=f"{registry.host}/{repo}:v1",
                files=["module.wasm:application/vnd.wasm.content.layer.v1+wasm"],
                manifest_config="config.json:application/vnd.wasm.config.v1+json",
            )
        finally:
            os.chdir(cwd)

    await asyncio.to_thread(push)
    module = await store.pull(f"{registry.host}/{repo}:v1", "Always")
    assert module.path.read_bytes() == (wasm_dir / "spin.wasm").read_bytes()


async def test_plain_oci_image_with_single_wasm_layer(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("plain")
    data = (wasm_dir / "hello.wasm").read_bytes()
    await registry.push_manifest(
        f"{repo}:v1",
        [(data, "application/vnd.oci.image.layer.v1.tar")],
        config_media_type="application/vnd.oci.image.config.v1+json",
    )
    module = await store.pull(f"{registry.host}/{repo}:v1", "IfNotPresent")
    assert module.path.read_bytes() == data


async def test_always_downloads_nothing_when_unchanged_and_follows_a_new_push(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("always")
    ref = f"{registry.host}/{repo}:latest"
    await registry.push(wasm_dir / "hello.wasm", f"{repo}:latest")
    first = await store.pull(ref, "Always")
    assert store.stats.blobs_downloaded == 1
    requests = store.stats.manifest_requests
    again = await store.pull(ref, "Always")
    assert again.digest == first.digest
    assert store.stats.blobs_downloaded == 1  # nothing downloaded
    assert store.stats.manifest_requests == requests + 1  # just the HEAD
    await registry.push(wasm_dir / "spin.wasm", f"{repo}:latest")
    changed = await store.pull(ref, "Always")
    assert changed.path.read_bytes() == (wasm_dir / "spin.wasm").read_bytes()
    assert store.stats.blobs_downloaded == 2


async def test_if_not_present_and_never_stay_local(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("local")
    ref = f"{registry.host}/{repo}:v1"
    with pytest.raises(ImagePullError) as info:
        await store.pull(ref, "Never")
    assert info.value.reason == "ErrImageNeverPull"
    assert "pull policy of Never" in info.value.message
    await registry.push(wasm_dir / "hello.wasm", f"{repo}:v1")
    await store.pull(ref, "IfNotPresent")
    requests = store.stats.manifest_requests
    await registry.push(wasm_dir / "spin.wasm", f"{repo}:v1")  # the tag moves remotely
    assert (await store.pull(ref, "IfNotPresent")).path.read_bytes()[:4] == b"\0asm"
    never = await store.pull(ref, "Never")
    assert never.path.read_bytes() == (wasm_dir / "hello.wasm").read_bytes()
    assert store.stats.manifest_requests == requests  # no network at all


async def test_import_file_then_never(store: ModuleStore, wasm_dir: Path) -> None:
    stored = await store.import_file(wasm_dir / "hello.wasm", "example.test/hello:v1")
    assert stored.reference == "example.test/hello:v1"
    pulled = await store.pull("example.test/hello:v1", "Never")
    assert pulled.digest == stored.digest
    with pytest.raises(ImagePullError, match="not a wasm module"):
        await store.import_file(wasm_dir / "notwasm.wasm", "example.test/bad:v1")
    assert await store.remove("example.test/hello:v1")
    assert not await store.remove("example.test/hello:v1")
    assert await store.list() == []


async def test_unknown_tag(store: ModuleStore, registry: RegistryProcess) -> None:
    with pytest.raises(ImagePullError) as info:
        await store.pull(f"{registry.host}/{_repo('missing')}:nope", "IfNotPresent")
    assert info.value.reason == "ErrImagePull"
    assert "manifest unknown" in info.value.message
    assert "404" in info.value.message


async def test_not_a_wasm_module(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("notwasm")
    text = (wasm_dir / "notwasm.wasm").read_bytes()
    await registry.push_manifest(
        f"{repo}:tar", [(b"a" * 10, "application/vnd.oci.image.layer.v1.tar")] * 2
    )
    await registry.push_manifest(f"{repo}:text", [(text, "application/octet-stream")])
    for tag in ("tar", "text"):
        with pytest.raises(ImagePullError, match="not a wasm module") as info:
            await store.pull(f"{registry.host}/{repo}:{tag}", "Always")
        assert not info.value.retryable
    assert list(store.blobs.iterdir()) == []
    assert list(store.tmp.glob("*.part")) == []


async def test_digest_mismatch(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("corrupt")
    data = (wasm_dir / "ticker.wasm").read_bytes()
    await registry.push(data, f"{repo}:v1")
    registry.corrupt_blob("sha256:" + hashlib.sha256(data).hexdigest())
    with pytest.raises(ImagePullError, match="digest mismatch"):
        await store.pull(f"{registry.host}/{repo}:v1", "IfNotPresent")
    assert list(store.blobs.iterdir()) == []  # nothing unverified was kept
    assert list(store.tmp.glob("*.part")) == []
    wrong = "sha256:" + "0" * 64
    with pytest.raises(ImagePullError, match="manifest unknown"):
        await store.pull(f"{registry.host}/{repo}@{wrong}", "IfNotPresent")


async def test_auth_good_and_bad_credentials(
    store: ModuleStore, auth_registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("private")
    await auth_registry.push(wasm_dir / "hello.wasm", f"{repo}:v1")
    ref = f"{auth_registry.host}/{repo}:v1"
    with pytest.raises(ImagePullError, match=r"pull access denied.*authorization failed"):
        await store.pull(ref, "Always")
    with pytest.raises(ImagePullError, match="authorization failed"):
        await store.pull(ref, "Always", RegistryCredentials("wasmlet", "wrong"))
    module = await store.pull(ref, "Always", auth_registry.credentials)  # type: ignore[arg-type]
    assert module.size == (wasm_dir / "hello.wasm").stat().st_size


async def test_bearer_token_auth(
    store: ModuleStore, token_registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("bearer")
    await token_registry.push(wasm_dir / "hello.wasm", f"{repo}:v1")
    ref = f"{token_registry.host}/{repo}:v1"
    with pytest.raises(ImagePullError, match=r"pull access denied.*anonymously"):
        await store.pull(ref, "Always")
    with pytest.raises(ImagePullError, match="authorization failed"):
        await store.pull(ref, "Always", RegistryCredentials("wasmlet", "wrong"))
    creds = token_registry.credentials
    module = await store.pull(ref, "Always", creds)  # type: ignore[arg-type]
    assert module.size == (wasm_dir / "hello.wasm").stat().st_size
    assert token_registry.token_server is not None
    issued = token_registry.token_server.tokens_issued
    assert issued >= 3  # push, the anonymous try, the good pull (bad creds get a 401)
    await store.pull(ref, "Always", creds)  # type: ignore[arg-type]
    assert token_registry.token_server.tokens_issued == issued  # the token is reused


async def test_registry_down_then_up(store: ModuleStore, tmp_path: Path, wasm_dir: Path) -> None:
    from tests.components import docker_registry_path, require

    proc = RegistryProcess(require(docker_registry_path(), "docker-registry"), tmp_path / "reg")
    proc.start()
    try:
        await proc.push(wasm_dir / "spin.wasm", "down:v1")
    finally:
        proc.stop()
    ref = f"{proc.host}/down:v1"
    with pytest.raises(ImagePullError, match=r"cannot reach registry.*connection refused"):
        await store.pull(ref, "IfNotPresent")
    proc.start()  # same port, same data
    try:
        module = await store.pull(ref, "IfNotPresent")
        assert module.size == (wasm_dir / "spin.wasm").stat().st_size
    finally:
        proc.stop()


async def test_concurrent_pulls_download_once(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("many")
    await registry.push(wasm_dir / "scripted.wasm", f"{repo}:v1")
    await registry.push(wasm_dir / "scripted.wasm", f"{repo}:v2")  # same blob, other tag
    refs = [f"{registry.host}/{repo}:v1"] * 10 + [f"{registry.host}/{repo}:v2"] * 10
    results = await asyncio.gather(*(store.pull(r, "Always") for r in refs))
    assert {m.digest for m in results} == {results[0].digest}
    assert store.stats.blobs_downloaded == 1
    # A second store object on the same directory (another process, say) sees it all.
    other = ModuleStore(store.root)
    assert {m.reference for m in await other.list()} == set(refs)


async def test_leftover_temp_file_is_ignored_and_cleaned(
    tmp_path: Path, registry: RegistryProcess, wasm_dir: Path
) -> None:
    root = tmp_path / "modules"
    store = ModuleStore(root)
    repo = _repo("crash")
    await registry.push(wasm_dir / "hello.wasm", f"{repo}:v1")
    # A crash mid-download: a partial file from a process that no longer exists.
    dead_pid = 2**22 + 12345
    leftover = store.tmp / f"{dead_pid}-abc.part"
    leftover.write_bytes(b"\0asm partial")
    reopened = ModuleStore(root)
    assert not leftover.exists()
    module = await reopened.pull(f"{registry.host}/{repo}:v1", "IfNotPresent")
    assert module.path.read_bytes() == (wasm_dir / "hello.wasm").read_bytes()
    await reopened.aclose()
    await store.aclose()


async def test_progress_callback(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    repo = _repo("progress")
    await registry.push(wasm_dir / "scripted.wasm", f"{repo}:v1")
    seen: list[tuple[int, int]] = []
    await store.pull(
        f"{registry.host}/{repo}:v1", "Always", progress=lambda d, t: seen.append((d, t))
    )
    size = (wasm_dir / "scripted.wasm").stat().st_size
    assert seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


async def test_gc_unreferenced_and_lru_budget(store: ModuleStore, wasm_dir: Path) -> None:
    import time

    a = await store.import_file(wasm_dir / "hello.wasm", "example.test/a:v1")
    b = await store.import_file(wasm_dir / "ticker.wasm", "example.test/b:v1")
    c = await store.import_file(wasm_dir / "writer.wasm", "example.test/c:v1")
    # Make every blob old enough for GC (it spares blobs younger than a minute).
    old = time.time() - 3600
    for blob in store.blobs.iterdir():
        os.utime(blob, (old, old))
    await store.pull("example.test/a:v1", "Never")  # a used last, b least recently
    await store.pull("example.test/c:v1", "Never")
    await store.pull("example.test/a:v1", "Never")
    await store.remove("example.test/b:v1")
    result = await store.gc()
    assert result.removed_blobs == 2  # b's module and b's manifest
    assert not b.path.exists() and a.path.exists()
    budget = a.size + 1000
    result = await store.gc(budget, keep=())
    assert result.removed_references == ("example.test/c:v1",)
    assert a.path.exists() and not c.path.exists()
    result = await store.gc(0, keep=[a.digest])
    assert result.removed_references == ()
    assert a.path.exists()


async def test_store_push_then_pull_elsewhere(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path, tmp_path: Path
) -> None:
    repo = _repo("pushed")
    digest = await store.push(wasm_dir / "writer.wasm", f"{registry.host}/{repo}:v1")
    other = ModuleStore(tmp_path / "other")
    try:
        module = await other.pull(f"{registry.host}/{repo}@{digest}", "IfNotPresent")
        assert module.path.read_bytes() == (wasm_dir / "writer.wasm").read_bytes()
        assert module.manifest_digest == digest
    finally:
        await other.aclose()


async def test_image_index_with_a_wasm_platform(
    store: ModuleStore, registry: RegistryProcess, wasm_dir: Path
) -> None:
    """A manifest list is followed to its wasm entry; without one it is not a wasm module."""
    import json

    import aiohttp

    from kubelet_core._modules import ImageReference, RegistryClient
    from kubelet_core._modules.oci import OCI_INDEX, OCI_MANIFEST

    repo = _repo("index")
    child = await registry.push(wasm_dir / "hello.wasm", f"{repo}:wasm-only")
    ref = ImageReference.parse(f"{registry.host}/{repo}:multi")
    amd64 = ImageReference.parse(f"{registry.host}/{repo}:amd64")
    async with aiohttp.ClientSession() as session:
        client = RegistryClient(session)
        _, _, body = await client.get_manifest(ref, None, key=child)

        def index(arch: str) -> bytes:
            platform = {"architecture": arch, "os": "wasip1" if arch == "wasm" else "linux"}
            entry = {
                "mediaType": OCI_MANIFEST,
                "digest": child,
                "size": len(body),
                "platform": platform,
            }
            manifests = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
            return json.dumps(manifests).encode()

        await client.push_manifest(ref, index("wasm"), OCI_INDEX, None)
        await client.push_manifest(amd64, index("amd64"), OCI_INDEX, None)
    module = await store.pull(str(ref), "Always")
    assert module.path.read_bytes() == (wasm_dir / "hello.wasm").read_bytes()
    with pytest.raises(ImagePullError, match="no wasm/wasi platform"):
        await store.pull(str(amd64), "Always")
