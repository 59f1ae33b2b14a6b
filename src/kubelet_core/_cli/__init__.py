"""The ``wasmlet`` binary: ``node``, ``up``, ``controlplane``, ``modules``, ``providers``.

The CLI is the top layer: it may use the core, the control plane and (through
entry points only) the installed providers.  Providers may add their own
subcommands through the entry-point group ``kubelet_core._cli``.
"""
