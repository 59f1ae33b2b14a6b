"""A tiny ``kubectl apply`` for ``wasmlet up --apply``: create what is not there yet.

``wasmlet up`` must work on a machine without kubectl, so it applies the sample
manifests itself.  It creates each object (POST); an object that already
exists is left alone (that is ``kubectl create``'s behaviour, which is what a
demo needs; use kubectl for real updates).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kubelet_core._cli.errors import UserError

CLUSTER_SCOPED = {"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding"}
IRREGULAR_PLURALS = {"Endpoints": "endpoints"}


def load_manifests(paths: list[Path]) -> list[dict[str, Any]]:
    """Every object in the files (directories: their *.yaml/*.yml/*.json, sorted)."""
    objects: list[dict[str, Any]] = []
    for path in _expand(paths):
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as error:
            raise UserError(f"cannot read {path}: {error}") from error
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, dict) or "kind" not in document:
                raise UserError(f"{path}: not a Kubernetes object")
            if document["kind"] == "List":
                objects.extend(document.get("items", []))
            else:
                objects.append(document)
    return objects


def _expand(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
        else:
            yield path


def collection_path(obj: dict[str, Any], default_namespace: str = "default") -> str:
    """The REST collection an object is created in, e.g. /api/v1/namespaces/default/pods."""
    api_version = str(obj.get("apiVersion", "v1"))
    kind = str(obj["kind"])
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    plural = IRREGULAR_PLURALS.get(kind, kind.lower() + "s")
    if kind in CLUSTER_SCOPED:
        return f"{prefix}/{plural}"
    namespace = obj.get("metadata", {}).get("namespace") or default_namespace
    return f"{prefix}/namespaces/{namespace}/{plural}"
