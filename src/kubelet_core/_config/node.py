"""The node agent's configuration: plain frozen dataclasses, grouped by concern.

Why this shape (kopf's ``OperatorSettings`` is the model):

* A library object is only what the caller wrote.  Nothing here reads
  ``WASMLET_*`` variables, flags or files: that is the CLI's job
  (``kubelet_core._cli.settings`` maps its pydantic model onto this one), so
  two agents embedded in one process never pick up a setting by accident.
* One section per concern (identity, API client, heartbeat, kubelet API, pod
  limits, logs, storage, shutdown, registries, host paths), so a reader finds
  a knob next to its relatives, and a caller replaces one section with
  ``dataclasses.replace(config, pods=PodLimitsConfig(max_pods=20))``.
* Names follow kubelet's ``KubeletConfiguration`` where it has the knob
  (``maxPods``, ``nodeLeaseDurationSeconds``, ``containerLogMaxSize``,
  ``shutdownGracePeriod``...), with the unit spelled out.
* Values are checked when a section is built, with a message naming the
  field, so a bad value fails at the caller's line, not inside a controller.
* Defaults cannot collide: the kubelet API port is 0 (a free port; the Node
  advertises the bound one) and per-node state lives under
  ``<data_dir>/nodes/<name>``, so agents with different names share a process
  and a data dir safely.  The CLI keeps kubelet's 10250.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from kubelet_core._quantity import quantity_bytes


def _at_least(section: object, name: str, least: float, *, strict: bool = False) -> None:
    value = getattr(section, name)
    if value is None:
        return
    bad = value <= least if strict else value < least
    if bad:
        relation = "greater than" if strict else "at least"
        raise ValueError(
            f"{type(section).__name__}.{name} must be {relation} {least:g}, not {value!r}"
        )


def _size(section: object, name: str, least: int) -> None:
    value = getattr(section, name)
    try:
        size = quantity_bytes(value)
    except ValueError:
        raise ValueError(
            f"{type(section).__name__}.{name} must be a quantity such as 10Mi, not {value!r}"
        ) from None
    if size < least:
        raise ValueError(f"{type(section).__name__}.{name} must be at least {least}, not {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class IdentityConfig:
    """Who the node is (kubelet's ``--hostname-override``, ``--node-ip``, ``--node-labels``)."""

    #: The Node's name: required, since two agents must never share one.
    name: str
    #: Address advertised in the Node and bound by the kubelet API.
    ip: str = "127.0.0.1"
    #: Extra labels; they win over the provider's and the well-known ones.
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ValueError(f"IdentityConfig.name must be a node name, not {self.name!r}")
        if not self.ip:
            raise ValueError("IdentityConfig.ip must be an address")
        object.__setattr__(self, "labels", dict(self.labels))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiClientConfig:
    """How the agent talks to the API server (``kubeAPIQPS``, ``eventRecordQPS``...)."""

    #: kubeconfig file; None: in-cluster credentials, else the client's default
    #: loading rules ($KUBECONFIG, ~/.kube/config), as kubectl and kopf do.
    kubeconfig: Path | None = None
    #: kubelet's ``--bootstrap-kubeconfig``: when ``kubeconfig`` is missing or its
    #: client certificate is expired, ask for a node certificate with these
    #: (bootstrap token) credentials and write ``kubeconfig`` (default: the node
    #: dir's ``kubelet.conf``) pointing at it.
    bootstrap_kubeconfig: Path | None = None
    #: Renew the node's client certificate before it expires (kubelet's
    #: ``rotateCertificates``); applies when the kubeconfig uses the certificate
    #: the node got itself (its pki dir's ``kubelet-client-current.pem``).
    rotate_certificates: bool = True
    qps: float = 50.0
    burst: int = 100
    #: Events have a budget of their own, so a noisy pod cannot starve status writes.
    event_qps: float = 50.0
    event_burst: int = 100

    def __post_init__(self) -> None:
        _at_least(self, "qps", 0, strict=True)
        _at_least(self, "burst", 1)
        _at_least(self, "event_qps", 0, strict=True)
        _at_least(self, "event_burst", 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HeartbeatConfig:
    """Liveness: the Lease, node status reports, and the periodic pod resync."""

    lease_duration_seconds: int = 40
    lease_renew_interval_seconds: float = 10.0
    #: The status is written on change, and at least this often.
    node_status_report_frequency_seconds: float = 60.0
    #: Every pod is handed to its worker again this often (kubelet's syncFrequency).
    sync_frequency_seconds: float = 60.0

    def __post_init__(self) -> None:
        _at_least(self, "lease_duration_seconds", 1)
        for name in (
            "lease_renew_interval_seconds",
            "node_status_report_frequency_seconds",
            "sync_frequency_seconds",
        ):
            _at_least(self, name, 0, strict=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KubeletApiConfig:
    """The kubelet HTTPS API (logs, stats, metrics) and who may call it."""

    #: False: no kubelet API at all (``kubectl logs`` will not work).
    enabled: bool = True
    #: 0 picks a free port; the Node advertises the one bound.  The CLI uses 10250.
    port: int = 0
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    #: Ask the cluster for a serving certificate (signer kubernetes.io/kubelet-serving;
    #: kubelet's ``serverTLSBootstrap``) and renew it; until one is approved and
    #: issued, the API serves with a self-signed one.
    rotate_server_certificates: bool = False
    #: CA of the client certificates allowed in; None: the kubeconfig's CA.
    client_ca_file: Path | None = None
    anonymous_auth: bool = False
    max_connections: int = 256
    request_header_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 90.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"KubeletApiConfig.port must be 0..65535, not {self.port!r}")
        if (self.tls_cert_file is None) != (self.tls_private_key_file is None):
            raise ValueError("KubeletApiConfig: tls_cert_file and tls_private_key_file go together")
        if self.rotate_server_certificates and self.tls_cert_file is not None:
            raise ValueError(
                "KubeletApiConfig: rotate_server_certificates gets the serving certificate "
                "from the cluster; it does not go with tls_cert_file"
            )
        _at_least(self, "max_connections", 1)
        _at_least(self, "request_header_timeout_seconds", 0, strict=True)
        _at_least(self, "idle_timeout_seconds", 0, strict=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PodLimitsConfig:
    """What the node admits and the limits every container gets (docs/security.md)."""

    max_pods: int = 110
    #: Memory limit of a container that sets none; "0": unbounded.
    default_memory_limit: str = "512Mi"
    max_open_files: int = 1024
    #: uid/gid of containers whose pod sets no runAsUser, when the agent is root.
    default_user: int | None = 65534

    def __post_init__(self) -> None:
        _at_least(self, "max_pods", 1)
        _size(self, "default_memory_limit", 0)
        _at_least(self, "max_open_files", 16)
        _at_least(self, "default_user", 0)

    @property
    def default_memory_limit_bytes(self) -> int | None:
        return quantity_bytes(self.default_memory_limit) or None


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogsConfig:
    """Rotation of container log files (``containerLogMaxSize``/``containerLogMaxFiles``)."""

    container_log_max_size: str = "10Mi"
    container_log_max_files: int = 5

    def __post_init__(self) -> None:
        _size(self, "container_log_max_size", 1)
        _at_least(self, "container_log_max_files", 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """Where state lives: ``modules/`` (shared, content-addressed) and ``nodes/<name>/``."""

    #: None: ``~/.wasmlet``.  Nodes with different names may share one.
    data_dir: Path | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShutdownConfig:
    """What stopping the agent does (kubelet's ``shutdownGracePeriod``)."""

    #: Bound of the whole shutdown (at least 2 s are always given).
    grace_period_seconds: float = 30.0
    #: Evict this node's pods (honouring PodDisruptionBudgets) before stopping.
    drain: bool = False
    #: Leave containers running for the next agent to re-adopt (kubelet's way);
    #: False stops them with the agent.  Ignored when draining.
    keep_pods_on_exit: bool = True

    def __post_init__(self) -> None:
        _at_least(self, "grace_period_seconds", 0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegistriesConfig:
    """Module registries."""

    #: Registries reached over plain HTTP (host[:port]).
    insecure: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "insecure", tuple(self.insecure))


@dataclasses.dataclass(frozen=True, kw_only=True)
class HostPathsConfig:
    """hostPath volumes: only below these directories (none: hostPath is refused)."""

    allowed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed", tuple(self.allowed))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Everything a :class:`~kubelet_core.NodeAgent` needs; only ``identity`` is required."""

    identity: IdentityConfig
    api: ApiClientConfig = dataclasses.field(default_factory=ApiClientConfig)
    heartbeat: HeartbeatConfig = dataclasses.field(default_factory=HeartbeatConfig)
    kubelet_api: KubeletApiConfig = dataclasses.field(default_factory=KubeletApiConfig)
    pods: PodLimitsConfig = dataclasses.field(default_factory=PodLimitsConfig)
    logs: LogsConfig = dataclasses.field(default_factory=LogsConfig)
    storage: StorageConfig = dataclasses.field(default_factory=StorageConfig)
    shutdown: ShutdownConfig = dataclasses.field(default_factory=ShutdownConfig)
    registries: RegistriesConfig = dataclasses.field(default_factory=RegistriesConfig)
    host_paths: HostPathsConfig = dataclasses.field(default_factory=HostPathsConfig)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = _SECTIONS[field.name]
            if not isinstance(value, expected):
                raise TypeError(
                    f"NodeConfig.{field.name} must be a {expected.__name__}, "
                    f"not {type(value).__name__}"
                )

    @property
    def node_name(self) -> str:
        return self.identity.name

    @property
    def data_dir(self) -> Path:
        if self.storage.data_dir is not None:
            return self.storage.data_dir
        return Path.home() / ".wasmlet"

    @property
    def node_dir(self) -> Path:
        """Per-node state (logs, volumes, pki): several nodes may share a data dir."""
        return self.data_dir / "nodes" / self.identity.name

    @property
    def kubeconfig(self) -> Path | None:
        """The kubeconfig the node uses: as given, or where bootstrap writes it."""
        if self.api.kubeconfig is None and self.api.bootstrap_kubeconfig is not None:
            return self.node_dir / "kubelet.conf"
        return self.api.kubeconfig

    @property
    def pki_dir(self) -> Path:
        """The node's certificates and keys (kubelet's ``--cert-dir``)."""
        return self.node_dir / "pki"

    @property
    def modules_dir(self) -> Path:
        """The module store, shared by every node of the data dir (it is built for that)."""
        return self.data_dir / "modules"


_SECTIONS: dict[str, type] = {
    "identity": IdentityConfig,
    "api": ApiClientConfig,
    "heartbeat": HeartbeatConfig,
    "kubelet_api": KubeletApiConfig,
    "pods": PodLimitsConfig,
    "logs": LogsConfig,
    "storage": StorageConfig,
    "shutdown": ShutdownConfig,
    "registries": RegistriesConfig,
    "host_paths": HostPathsConfig,
}
