"""Settings of the node agent (pydantic-settings: flags > WASMLET_* env > file)."""

from kubelet_core._config.settings import NodeSettings, load_settings

__all__ = ["NodeSettings", "load_settings"]
