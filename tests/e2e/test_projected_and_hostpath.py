"""Volumes that need the control plane or node flags, through `wasmlet up` and kubectl.

A projected service account token comes from the TokenRequest API and is
verified here with the control plane's signing key; hostPath works only under
``--allowed-host-paths``.
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from kubelet_core._controlplane.tokenrequest import verify_token
from tests.e2e.conftest import Wasmlet, start_wasmlet, stop_wasmlet, wasi_pod


def test_projected_service_account_token_is_valid(wasmlet: Wasmlet) -> None:
    token_path = "/var/run/secrets/tokens/token"
    pod = wasi_pod(
        "projected-token",
        ["read", token_path, "echo", "", "read", "/var/run/secrets/tokens/ca.crt"],
        container={"volumeMounts": [{"name": "tokens", "mountPath": "/var/run/secrets/tokens"}]},
        volumes=[
            {
                "name": "tokens",
                "projected": {
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "path": "token",
                                "audience": "wasmlet-e2e",
                                "expirationSeconds": 3600,
                            }
                        },
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                    ]
                },
            }
        ],
    )
    wasmlet.apply(pod)
    wasmlet.wait_phase("projected-token", "Succeeded")
    output = wasmlet.kubectl("logs", "projected-token")
    token = output.split("\n", 1)[0].strip()
    assert "BEGIN CERTIFICATE" in output
    key_pem = (wasmlet.data_dir / "controlplane" / "pki" / "sa.pub").read_bytes()
    public_key = serialization.load_pem_public_key(key_pem)
    claims = verify_token(token, public_key, audience="wasmlet-e2e")  # type: ignore[arg-type]
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["exp"] - time.time() > 3000
    uid = wasmlet.kubectl_json("get", "pod", "projected-token")["metadata"]["uid"]
    assert claims["kubernetes.io"]["pod"]["uid"] == uid


def test_host_path_under_allowed_paths(tmp_path: Path, kubectl: str) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "greeting").write_text("from the host")
    up = start_wasmlet(
        tmp_path / "up", kubectl, "--provider", "wasi", "--allowed-host-paths", str(shared)
    )
    volumes = [{"name": "host", "hostPath": {"path": str(shared), "type": "Directory"}}]
    mounts = {"volumeMounts": [{"name": "host", "mountPath": "/host"}]}
    try:
        # The host's file permissions apply, as for any container: the directory is
        # root's (0755), the pod runs as nobody by default, so it reads but cannot write.
        pod = wasi_pod(
            "hostpath-nobody",
            ["read", "/host/greeting", "write", "/host/reply", "from nobody"],
            container=mounts,
            volumes=volumes,
        )
        up.apply(pod)
        up.wait_phase("hostpath-nobody", "Failed")
        log = up.kubectl("logs", "hostpath-nobody")
        assert "from the host" in log and "ERR: cannot open /host/reply" in log
        assert not (shared / "reply").exists()
        # Asking for root (runAsUser: 0) writes as root would.
        pod = wasi_pod(
            "hostpath-allowed",
            ["read", "/host/greeting", "write", "/host/reply", "from the module"],
            container=mounts,
            volumes=volumes,
            securityContext={"runAsUser": 0},
        )
        up.apply(pod)
        up.wait_phase("hostpath-allowed", "Succeeded")
        assert "from the host" in up.kubectl("logs", "hostpath-allowed")
        assert (shared / "reply").read_text() == "from the module"
    finally:
        assert stop_wasmlet(up) == 0
