"""The container lifecycle's implementation; its public face is :mod:`kubelet_core.containers`."""
