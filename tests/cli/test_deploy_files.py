"""What operators install with (deploy/): the systemd unit and the config example.

The unit's ExecStart must be a command line the wasmlet binary accepts, and the
config example must load into the settings the unit names, bootstrap included.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from kubelet_core._cli.main import build_parser
from kubelet_core._cli.node_cmd import config_of, settings_from_args

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_systemd_unit_runs_wasmlet_node_with_the_config_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "wasmlet-node.service")
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert Path(argv[0]).name == "wasmlet"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "node" and args.config == Path("/etc/wasmlet/node.yaml")
    assert unit["Service"]["KillSignal"] == "SIGTERM"  # the signal the agent stops on
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_config_example_loads_with_bootstrap_and_rotation() -> None:
    args = build_parser().parse_args(["node", "--config", str(DEPLOY / "node.yaml")])
    config = config_of(settings_from_args(args))
    assert config.identity.name == "wasm-node-1" and config.identity.ip == "10.0.0.21"
    assert config.api.bootstrap_kubeconfig == Path("/etc/wasmlet/bootstrap-kubeconfig")
    assert config.kubeconfig == Path("/var/lib/wasmlet/kubelet.conf")
    assert config.api.rotate_certificates and config.kubelet_api.rotate_server_certificates
    assert config.kubelet_api.port == 10250
    assert config.pki_dir == Path("/var/lib/wasmlet/nodes/wasm-node-1/pki")
