"""The node agent's Kubernetes API client: raw JSON, rate-limited, one error type.

The client itself (and aiohttp with it) loads on first use: a module host
imports this package for its light parts only (see :mod:`kubelet_core._lazy`).
"""

from typing import TYPE_CHECKING

from kubelet_core._apiclient.backoff import Backoff
from kubelet_core._apiclient.errors import ApiError, ApiUnreachable, is_status
from kubelet_core._apiclient.paths import (
    event_path,
    lease_path,
    node_path,
    pod_path,
    pods_path,
)
from kubelet_core._apiclient.ratelimit import TokenBucket
from kubelet_core._lazy import lazy_exports

if TYPE_CHECKING:
    from kubelet_core._apiclient.client import (
        JSON_PATCH,
        MERGE_PATCH,
        STRATEGIC_MERGE_PATCH,
        KubeApi,
        KubeObject,
        resource_of,
        watch_error,
    )

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "ApiError",
    "ApiUnreachable",
    "Backoff",
    "KubeApi",
    "KubeObject",
    "TokenBucket",
    "event_path",
    "is_status",
    "lease_path",
    "node_path",
    "pod_path",
    "pods_path",
    "resource_of",
    "watch_error",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "kubelet_core._apiclient.client": (
            "JSON_PATCH",
            "MERGE_PATCH",
            "STRATEGIC_MERGE_PATCH",
            "KubeApi",
            "KubeObject",
            "resource_of",
            "watch_error",
        ),
    },
)
