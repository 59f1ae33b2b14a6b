"""The commands' signal handling is the library's (``kubelet_core._lifecycle.signals``)."""

from kubelet_core._lifecycle.signals import SIGNALS, ShutdownSignals

__all__ = ["SIGNALS", "ShutdownSignals"]
