"""OCI media types and choosing the wasm module inside a manifest.

Two shapes are accepted:

* the wasm-to-oci / ORAS shape: an image manifest whose config has media type
  ``application/vnd.wasm.config.v1+json`` and whose (first) layer has
  ``application/vnd.wasm.content.layer.v1+wasm``;
* the CNCF TAG-Runtime wasm artifact layout (wasm-pkg-tools, containerd's
  wasm shims): config ``application/vnd.wasm.config.v0+json``, the module or
  component in an ``application/wasm`` layer;
* a plain OCI or Docker image manifest with exactly one layer of any media
  type, accepted only if the blob turns out to start with the wasm magic
  ``\\0asm`` (checked after download by the store).

An image index (manifest list) is followed to the entry whose platform is
wasm (``architecture`` ``wasm``/``wasm32`` or ``os`` ``wasi``); anything else
is "not a wasm module" rather than a guess.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kubelet_core._provider.errors import ImagePullError

WASM_CONFIG = "application/vnd.wasm.config.v1+json"
WASM_LAYER = "application/vnd.wasm.content.layer.v1+wasm"
#: The CNCF TAG-Runtime wasm artifact layout (wasm-pkg-tools, containerd's wasm shims).
CNCF_WASM_CONFIG = "application/vnd.wasm.config.v0+json"
CNCF_WASM_LAYER = "application/wasm"
WASM_LAYERS = (WASM_LAYER, CNCF_WASM_LAYER)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))

WASM_MAGIC = b"\0asm"
WASM_PLATFORMS = {"wasm", "wasm32", "wasi"}


@dataclasses.dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def from_json(cls, data: Any, what: str) -> Descriptor:
        try:
            media_type, digest, size = data["mediaType"], data["digest"], data["size"]
        except (KeyError, TypeError) as exc:
            raise ImagePullError(f"malformed manifest: {what} lacks {exc}") from None
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise ImagePullError(f"malformed manifest: bad {what} descriptor")
        return cls(str(media_type), digest, size)


@dataclasses.dataclass(frozen=True)
class ModuleLayer:
    """The layer that holds the module, and whether its bytes still need the magic check."""

    layer: Descriptor
    check_magic: bool


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ImagePullError(f"malformed {what}: not JSON") from None
    if not isinstance(data, dict):
        raise ImagePullError(f"malformed {what}: not a JSON object")
    return data


def media_type_of(manifest: dict[str, Any], header: str | None) -> str:
    """The manifest's own mediaType field, else the Content-Type the registry sent."""
    declared = manifest.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in manifest:
        return OCI_INDEX
    return (header or OCI_MANIFEST).split(";")[0].strip()


def pick_from_index(index: dict[str, Any], reference: str) -> Descriptor:
    """The wasm entry of an image index, or ImagePullError("not a wasm module")."""
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        arch = str(platform.get("architecture", "")).lower()
        os_name = str(platform.get("os", "")).lower()
        if arch in WASM_PLATFORMS or os_name in WASM_PLATFORMS:
            return Descriptor.from_json(entry, "index entry")
    raise ImagePullError(
        f"{reference} is not a wasm module: its manifest list has no wasm/wasi platform",
        retryable=False,
    )


def pick_module_layer(manifest: dict[str, Any], reference: str) -> ModuleLayer:
    """Choose the module layer of an image manifest (see module docstring)."""
    layers = [Descriptor.from_json(layer, "layer") for layer in manifest.get("layers") or []]
    for layer in layers:
        if layer.media_type in WASM_LAYERS:
            return ModuleLayer(layer, check_magic=False)
    if len(layers) == 1:
        return ModuleLayer(layers[0], check_magic=True)
    kinds = ", ".join(layer.media_type for layer in layers) or "no layers"
    raise ImagePullError(
        f"{reference} is not a wasm module: no {WASM_LAYER} layer ({kinds})", retryable=False
    )
