"""Finding providers: installed plugins register an entry point in one group.

``wasmlet node --provider wasi`` loads the entry point named ``wasi`` from the
group ``kubelet_core.providers``.  The entry point names a ``Provider``
subclass (or any zero-argument callable returning a provider), so the core
never imports a provider package by name.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from kubelet_core._provider.base import Provider

ENTRY_POINT_GROUP = "kubelet_core.providers"


def available_providers() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed providers by name."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_provider(name: str, **options: Any) -> Provider:
    """Instantiate the provider registered as ``name``; options go to its constructor."""
    providers = available_providers()
    if name not in providers:
        known = ", ".join(sorted(providers)) or "none installed"
        raise LookupError(f"no provider named {name!r} (available: {known})")
    factory = providers[name].load()
    provider = factory(**options)
    if not isinstance(provider, Provider):
        raise TypeError(f"entry point {name!r} returned {type(provider).__name__}, not a Provider")
    return provider
