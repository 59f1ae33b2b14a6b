"""Capability providers actors can be signed for, and their registry."""

from wasmlet_wascc.capabilities.base import (
    ActorBinding,
    BindError,
    Capability,
    CapabilityError,
    CapabilityHost,
    CapabilityRegistry,
)
from wasmlet_wascc.capabilities.http_server import HttpServerCapability
from wasmlet_wascc.capabilities.keyvalue import (
    InMemoryKeyValue,
    KeyValueBackend,
    KeyValueCapability,
)
from wasmlet_wascc.capabilities.logging import LoggingCapability


def default_registry() -> CapabilityRegistry:
    """The built-in capabilities plus any installed as plugins."""
    registry = CapabilityRegistry(
        {
            HttpServerCapability.capability_id: HttpServerCapability,
            KeyValueCapability.capability_id: KeyValueCapability,
            LoggingCapability.capability_id: LoggingCapability,
        }
    )
    registry.load_entry_points()
    return registry


__all__ = [
    "ActorBinding",
    "BindError",
    "Capability",
    "CapabilityError",
    "CapabilityHost",
    "CapabilityRegistry",
    "HttpServerCapability",
    "InMemoryKeyValue",
    "KeyValueBackend",
    "KeyValueCapability",
    "LoggingCapability",
    "default_registry",
]
