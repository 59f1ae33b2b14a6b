"""What every API object's ``metadata`` says, read the one way: name, namespace, uid, key.

The API server stores whatever clients sent, and the node reads objects it
did not write, so every accessor tolerates a missing or malformed
``metadata`` (an empty string, never an exception).  The key of a
namespaced object is ``namespace/name`` with ``default`` for an object that
names no namespace, the key kubelet and client-go use
(``cache.MetaNamespaceKeyFunc``).  :mod:`kubelet_core._pods.podutil` builds
the pod rules on these; everything below the pod layer (containers,
volumes, the reflector) uses them directly.
"""

from __future__ import annotations

from typing import Any

KubeObject = dict[str, Any]

DEFAULT_NAMESPACE = "default"


def meta(obj: KubeObject) -> dict[str, Any]:
    """``metadata``, or ``{}`` when it is missing or not an object."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name(obj: KubeObject) -> str:
    return str(meta(obj).get("name") or "")


def namespace(obj: KubeObject) -> str:
    """The object's namespace, ``default`` when unset (what the API server defaults it to)."""
    return str(meta(obj).get("namespace") or DEFAULT_NAMESPACE)


def uid(obj: KubeObject) -> str:
    return str(meta(obj).get("uid") or "")


def resource_version(obj: KubeObject) -> str:
    return str(meta(obj).get("resourceVersion") or "")


def key(obj: KubeObject) -> str:
    """``namespace/name``: the key of a namespaced object in every cache of the node."""
    return f"{namespace(obj)}/{name(obj)}"
