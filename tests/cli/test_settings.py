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
