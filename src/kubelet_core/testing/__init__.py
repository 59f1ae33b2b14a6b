"""Testing kits for provider authors: an in-process cluster and node (see harness)."""

from kubelet_core.testing._harness import ClusterHarness, pod_manifest

__all__ = ["ClusterHarness", "pod_manifest"]
