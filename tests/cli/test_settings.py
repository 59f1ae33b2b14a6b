"""Settings precedence: flags > WASMLET_* env > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelet_core._cli.settings import load_settings


def test_precedence_flags_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wasmlet.yaml"
    config.write_text("max-pods: 7\nnode_labels: a=b\nport: 1\nnode-name: from-file\n")
    monkeypatch.setenv("WASMLET_PORT", "2")
    settings = load_settings({"node_name": None, "port": None}, config)
    assert settings.max_pods == 7 and settings.node_labels == {"a": "b"}
    assert settings.port == 2 and settings.node_name == "from-file"
    assert load_settings({"port": 3}, config).port == 3


def test_list_and_map_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMLET_INSECURE_REGISTRIES", "r1:5000,r2")
    monkeypatch.setenv("WASMLET_NODE_LABELS", "x=y,z=w")
    settings = load_settings({})
    assert settings.insecure_registries == ["r1:5000", "r2"]
    assert settings.node_labels == {"x": "y", "z": "w"}


def test_bad_label_is_rejected() -> None:
    with pytest.raises(ValueError, match="not key=value"):
        load_settings({"node_labels": "novalue"})


def test_the_cli_keeps_kubelets_port_and_maps_every_setting_onto_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every node setting reaches the library's NodeConfig (a new one must be mapped)."""
    for name in ("WASMLET_PORT", "WASMLET_DATA_DIR", "WASMLET_NODE_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings({}).to_config().kubelet_api.port == 10250
    monkeypatch.setenv("WASMLET_EVENT_QPS", "7")
    settings = load_settings(
        {
            "kubeconfig": tmp_path / "kc", "node_name": "n9", "node_ip": "127.0.0.9",
            "port": 0, "data_dir": tmp_path, "max_pods": 9, "node_labels": "a=b",
            "kube_api_qps": 9.0, "kube_api_burst": 19, "insecure_registries": "r:5000",
            "allowed_host_paths": "/srv", "container_log_max_size": "1Mi",
            "container_log_max_files": 2, "client_ca_file": tmp_path / "ca",
            "tls_cert_file": tmp_path / "c", "tls_private_key_file": tmp_path / "k",
            "anonymous_auth": True, "drain_on_shutdown": True, "keep_pods_on_exit": False,
            "pod_default_memory_limit": "64Mi", "pod_max_open_files": 64,
            "pod_default_user": 1000, "kubelet_api_max_connections": 8,
        }
    )  # fmt: skip
    config = settings.to_config()
    assert config.identity.name == "n9" and config.identity.ip == "127.0.0.9"
    assert config.identity.labels == {"a": "b"}
    assert (config.api.kubeconfig, config.api.qps, config.api.burst) == (tmp_path / "kc", 9.0, 19)
    assert config.api.event_qps == 7.0
    assert config.kubelet_api.port == 0 and config.kubelet_api.anonymous_auth
    assert config.kubelet_api.client_ca_file == tmp_path / "ca"
    assert config.kubelet_api.tls_cert_file == tmp_path / "c"
    assert config.kubelet_api.tls_private_key_file == tmp_path / "k"
    assert config.kubelet_api.max_connections == 8
    assert config.pods == type(config.pods)(
        max_pods=9, default_memory_limit="64Mi", max_open_files=64, default_user=1000
    )
    assert (config.logs.container_log_max_size, config.logs.container_log_max_files) == ("1Mi", 2)
    assert config.data_dir == tmp_path and config.node_dir == tmp_path / "nodes" / "n9"
    assert config.shutdown.drain and not config.shutdown.keep_pods_on_exit
    assert config.registries.insecure == ("r:5000",)
    assert config.host_paths.allowed == ("/srv",)
