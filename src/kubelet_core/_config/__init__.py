"""The node agent's configuration: plain frozen dataclasses grouped by concern.

Nothing here reads the environment; the CLI turns flags, ``WASMLET_*``
variables and config files into a :class:`NodeConfig` (``_cli/settings.py``).
"""

from kubelet_core._config.node import (
    ApiClientConfig,
    HeartbeatConfig,
    HostPathsConfig,
    IdentityConfig,
    KubeletApiConfig,
    LogsConfig,
    NodeConfig,
    PodLimitsConfig,
    RegistriesConfig,
    ShutdownConfig,
    StorageConfig,
)

__all__ = [
    "ApiClientConfig",
    "HeartbeatConfig",
    "HostPathsConfig",
    "IdentityConfig",
    "KubeletApiConfig",
    "LogsConfig",
    "NodeConfig",
    "PodLimitsConfig",
    "RegistriesConfig",
    "ShutdownConfig",
    "StorageConfig",
]
