"""NodeConfig: plain, grouped, checked at construction, and deaf to the environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kubelet_core import (
    ApiClientConfig,
    HeartbeatConfig,
    IdentityConfig,
    KubeletApiConfig,
    LogsConfig,
    NodeConfig,
    PodLimitsConfig,
    ShutdownConfig,
)


def test_defaults_cannot_collide_and_follow_kubelet() -> None:
    config = NodeConfig(identity=IdentityConfig(name="n1"))
    assert config.kubelet_api.port == 0  # a free port: agents in one process never collide
    assert config.node_dir == Path.home() / ".wasmlet" / "nodes" / "n1"
    assert config.modules_dir == Path.home() / ".wasmlet" / "modules"
    assert (config.api.qps, config.api.burst) == (50.0, 100)
    assert config.pods.max_pods == 110
    assert (
        config.heartbeat.lease_duration_seconds,
        config.heartbeat.lease_renew_interval_seconds,
    ) == (40, 10.0)
    assert config.shutdown.keep_pods_on_exit and not config.shutdown.drain


def test_the_library_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMLET_PORT", "1234")
    monkeypatch.setenv("WASMLET_MAX_PODS", "3")
    monkeypatch.setenv("WASMLET_NODE_NAME", "from-env")
    config = NodeConfig(identity=IdentityConfig(name="n1"))
    assert (config.node_name, config.kubelet_api.port, config.pods.max_pods) == ("n1", 0, 110)


def test_a_node_needs_a_name() -> None:
    with pytest.raises(TypeError):
        NodeConfig()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"IdentityConfig\.name"):
        IdentityConfig(name="")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PodLimitsConfig(max_pods=0), "PodLimitsConfig.max_pods must be at least 1, not 0"),
        (lambda: PodLimitsConfig(default_memory_limit="lots"), "a quantity such as 10Mi"),
        (
            lambda: LogsConfig(container_log_max_size="0"),
            "container_log_max_size must be at least 1",
        ),
        (lambda: ApiClientConfig(qps=0), "ApiClientConfig.qps must be greater than 0"),
        (lambda: HeartbeatConfig(lease_renew_interval_seconds=-1), "lease_renew_interval_seconds"),
        (lambda: KubeletApiConfig(port=70000), "KubeletApiConfig.port must be 0..65535"),
        (lambda: KubeletApiConfig(tls_cert_file=Path("c")), "go together"),
        (lambda: ShutdownConfig(grace_period_seconds=-1), "grace_period_seconds"),
    ],
)
def test_bad_values_fail_where_they_are_written(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_sections_are_typed_and_frozen() -> None:
    with pytest.raises(TypeError, match=r"NodeConfig\.pods must be a PodLimitsConfig"):
        NodeConfig(identity=IdentityConfig(name="n1"), pods={"max_pods": 3})  # type: ignore[arg-type]
    config = NodeConfig(identity=IdentityConfig(name="n1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pods = PodLimitsConfig()  # type: ignore[misc]
    smaller = dataclasses.replace(config, pods=PodLimitsConfig(max_pods=5))
    assert smaller.pods.max_pods == 5 and config.pods.max_pods == 110
