"""Testing kits for provider authors: an in-process cluster and node (see harness)."""

from kubelet_core.testing.harness import ClusterHarness, pod_manifest

__all__ = ["ClusterHarness", "pod_manifest"]
