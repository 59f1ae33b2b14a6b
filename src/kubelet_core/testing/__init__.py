"""Testing kits for provider authors: an in-process cluster and node (see harness),
and a provider that runs nothing, for simulating many nodes."""

from kubelet_core.testing._harness import ClusterHarness, pod_manifest
from kubelet_core.testing._simulated import SimulatedProvider

__all__ = ["ClusterHarness", "SimulatedProvider", "pod_manifest"]
