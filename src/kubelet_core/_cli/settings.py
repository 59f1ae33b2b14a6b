"""The CLI's settings model: flags, environment and a file, mapped onto NodeConfig.

The library takes a plain :class:`~kubelet_core.NodeConfig` and reads nothing
itself; this model is where ``wasmlet node`` and ``wasmlet up`` gather their
values, and :meth:`NodeSettings.to_config` is the one mapping between the two.
Precedence (highest first): command-line flags, ``WASMLET_*`` environment
variables, the YAML/JSON file named by ``--config`` (or ``WASMLET_CONFIG``),
then the defaults below.  Defaults follow the real kubelet where one exists
(``--kube-api-qps`` 50, ``--kube-api-burst`` 100, max-pods 110, lease 40 s
renewed every 10 s, node status reported at least every 60 s).
"""

from __future__ import annotations

import contextvars
import json
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kubelet_core._config import (
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

#: The config file of the settings being loaded (set by :func:`load_settings`).
_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "wasmlet_config_file", default=None
)


class ConfigFileSource(PydanticBaseSettingsSource):
    """Reads a YAML or JSON file; keys may use dashes (``max-pods``) or underscores."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = _config_file.get()
        self._data: dict[str, Any] = {}
        if path is not None:
            text = Path(path).read_text()
            loaded = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise ValueError(
                    f"config file {path} must hold a mapping, not {type(loaded).__name__}"
                )
            self._data = {str(k).replace("-", "_"): v for k, v in loaded.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


def default_data_dir() -> Path:
    return Path.home() / ".wasmlet"


class NodeSettings(BaseSettings):
    """Settings of one node agent (``wasmlet node``)."""

    model_config = SettingsConfigDict(env_prefix="WASMLET_", extra="forbid")

    kubeconfig: Path | None = Field(None, description="kubeconfig to reach the API server")
    bootstrap_kubeconfig: Path | None = Field(
        None, description="bootstrap credentials to get a node certificate (TLS bootstrap)"
    )
    rotate_certificates: bool = Field(True, description="renew the node's client certificate")
    rotate_server_certificates: bool = Field(
        False, description="get the kubelet API's serving certificate from the cluster"
    )
    provider: str = Field("wasi", description="provider entry point name")
    node_name: str = Field(default_factory=lambda: socket.gethostname().lower())
    node_ip: str = Field("127.0.0.1", description="address advertised and bound by the kubelet API")
    port: int = Field(10250, description="kubelet API port (0 picks a free one)")
    data_dir: Path = Field(default_factory=default_data_dir)
    max_pods: int = Field(110, ge=1)
    node_labels: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    kube_api_qps: float = Field(50.0, gt=0)
    kube_api_burst: int = Field(100, ge=1)
    #: Events have their own budget, as kubelet's --event-qps/--event-burst.
    event_qps: float = Field(50.0, gt=0)
    event_burst: int = Field(100, ge=1)

    lease_duration_seconds: int = Field(40, ge=1)
    lease_renew_interval_seconds: float = Field(10.0, gt=0)
    node_status_report_frequency_seconds: float = Field(60.0, gt=0)
    pod_resync_period_seconds: float = Field(60.0, gt=0)

    drain_on_shutdown: bool = Field(False, description="evict pods when the agent stops")
    keep_pods_on_exit: bool = Field(
        True,
        description=(
            "leave containers running when the agent stops (kubelet's behaviour); a "
            "restarted agent re-adopts them.  False stops them with the agent"
        ),
    )
    shutdown_grace_period_seconds: float = Field(30.0, ge=0)

    client_ca_file: Path | None = Field(
        None, description="CA that signs client certificates allowed to call the kubelet API"
    )
    tls_cert_file: Path | None = Field(None, description="kubelet API serving certificate")
    tls_private_key_file: Path | None = Field(None, description="its private key")
    anonymous_auth: bool = Field(False, description="allow unauthenticated kubelet API calls")
    kubelet_api_max_connections: int = Field(
        256, ge=1, description="concurrent kubelet API connections (at most a quarter of ulimit -n)"
    )
    kubelet_api_request_header_timeout_seconds: float = Field(
        10.0, gt=0, description="time a new connection has to send its first request's headers"
    )
    kubelet_api_idle_timeout_seconds: float = Field(
        90.0, gt=0, description="time a kept-alive connection may wait for its next request"
    )

    insecure_registries: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_host_paths: Annotated[list[str], NoDecode] = Field(default_factory=list)
    container_log_max_size: str = "10Mi"

    @field_validator("container_log_max_size", "pod_default_memory_limit")
    @classmethod
    def _check_size(cls, value: str, info: ValidationInfo) -> str:
        """A size such as 10Mi; the log size must be positive (kubelet's containerLogMaxSize),
        the default memory limit may be 0 (no default)."""
        from kubelet_core._quantity import quantity_bytes

        least = 1 if info.field_name == "container_log_max_size" else 0
        if quantity_bytes(value) < least:  # raises ValueError for a non-quantity
            what = str(info.field_name).replace("_", " ")
            raise ValueError(f"{what} {value!r} must be at least {least}")
        return value

    container_log_max_files: int = Field(5, ge=1)

    #: Limits every pod container gets from the node (docs/security.md).
    pod_default_memory_limit: str = Field(
        "512Mi", description="memory limit of a container that sets none ('0': unbounded)"
    )
    pod_max_open_files: int = Field(1024, ge=16, description="open files per container")
    pod_default_user: int | None = Field(
        65534,
        ge=0,
        description=(
            "uid (and gid) of containers whose pod sets no runAsUser, when the agent runs "
            "as root (65534: nobody)"
        ),
    )

    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init kwargs) beat ``WASMLET_*`` env, which beats the config file."""
        return (init_settings, env_settings, ConfigFileSource(settings_cls))

    @field_validator("node_labels", mode="before")
    @classmethod
    def _parse_labels(cls, value: Any) -> Any:
        """Accept ``k=v,k2=v2`` as kubelet's ``--node-labels`` does."""
        if isinstance(value, str) and value.lstrip().startswith("{"):
            return json.loads(value)
        if isinstance(value, str):
            pairs = [item for item in value.split(",") if item.strip()]
            labels: dict[str, str] = {}
            for pair in pairs:
                key, sep, val = pair.partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"node label {pair!r} is not key=value")
                labels[key.strip()] = val.strip()
            return labels
        return value

    @field_validator("insecure_registries", "allowed_host_paths", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def modules_dir(self) -> Path:
        return self.data_dir / "modules"

    def to_config(self) -> NodeConfig:
        """The library's config for these settings (its checks apply once more)."""
        return NodeConfig(
            identity=IdentityConfig(name=self.node_name, ip=self.node_ip, labels=self.node_labels),
            api=ApiClientConfig(
                kubeconfig=self.kubeconfig,
                bootstrap_kubeconfig=self.bootstrap_kubeconfig,
                rotate_certificates=self.rotate_certificates,
                qps=self.kube_api_qps,
                burst=self.kube_api_burst,
                event_qps=self.event_qps,
                event_burst=self.event_burst,
            ),
            heartbeat=HeartbeatConfig(
                lease_duration_seconds=self.lease_duration_seconds,
                lease_renew_interval_seconds=self.lease_renew_interval_seconds,
                node_status_report_frequency_seconds=self.node_status_report_frequency_seconds,
                sync_frequency_seconds=self.pod_resync_period_seconds,
            ),
            kubelet_api=KubeletApiConfig(
                port=self.port,
                tls_cert_file=self.tls_cert_file,
                tls_private_key_file=self.tls_private_key_file,
                rotate_server_certificates=self.rotate_server_certificates,
                client_ca_file=self.client_ca_file,
                anonymous_auth=self.anonymous_auth,
                max_connections=self.kubelet_api_max_connections,
                request_header_timeout_seconds=self.kubelet_api_request_header_timeout_seconds,
                idle_timeout_seconds=self.kubelet_api_idle_timeout_seconds,
            ),
            pods=PodLimitsConfig(
                max_pods=self.max_pods,
                default_memory_limit=self.pod_default_memory_limit,
                max_open_files=self.pod_max_open_files,
                default_user=self.pod_default_user,
            ),
            logs=LogsConfig(
                container_log_max_size=self.container_log_max_size,
                container_log_max_files=self.container_log_max_files,
            ),
            storage=StorageConfig(data_dir=self.data_dir),
            shutdown=ShutdownConfig(
                grace_period_seconds=self.shutdown_grace_period_seconds,
                drain=self.drain_on_shutdown,
                keep_pods_on_exit=self.keep_pods_on_exit,
            ),
            registries=RegistriesConfig(insecure=tuple(self.insecure_registries)),
            host_paths=HostPathsConfig(allowed=tuple(self.allowed_host_paths)),
        )


def load_settings(
    flags: dict[str, Any],
    config_file: Path | None = None,
    *,
    cls: type[NodeSettings] = NodeSettings,
) -> NodeSettings:
    """Build settings from flags that were given (None means "not given"), env and file."""
    given = {k: v for k, v in flags.items() if v is not None}
    token = _config_file.set(config_file)
    try:
        return cls(**given)
    finally:
        _config_file.reset(token)
