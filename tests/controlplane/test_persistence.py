"""Restarting on the same data directory loses nothing and keeps the CA."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client, add_node, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_restart_keeps_objects_resource_versions_and_ca(tmp_path: Path) -> None:
    data = tmp_path / "cp"
    async with ControlPlane(data, scheduler=False) as cp, aiohttp.ClientSession() as session:
        client = Client(cp, session)
        port = cp.port
        await add_node(client, "n1")
        created = await client.ok("POST", PODS, pod("keep"))
        await client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
        await client.ok("POST", PODS, pod("gone"))
        await client.ok("DELETE", f"{PODS}/gone")
        last_rv = int((await client.ok("GET", PODS))["metadata"]["resourceVersion"])
        kubeconfig = cp.kubeconfig_path.read_text()
        ca = cp.pki.ca_cert_path.read_bytes()

    async with (
        ControlPlane(data, port=port, scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        assert cp.pki.ca_cert_path.read_bytes() == ca
        # The kubeconfig written before the restart still authenticates.
        assert cp.kubeconfig_path.read_text() == kubeconfig
        client = Client(cp, session)
        again = await client.ok("GET", f"{PODS}/keep")
        assert again == created
        assert (await client.get(f"{PODS}/gone"))[0] == 404
        node = await client.ok("GET", "/api/v1/nodes/n1")
        assert node["status"]["allocatable"]["pods"] == "110"
        await client.ok("GET", "/api/v1/namespaces/team/serviceaccounts/default")
        newer = await client.ok("POST", PODS, pod("new"))
        assert int(newer["metadata"]["resourceVersion"]) > last_rv


def test_private_keys_are_never_readable_by_others(tmp_path: Path) -> None:
    """Keys are created 0600 (not written, then chmod-ed), also over an existing file."""
    import os

    from kubelet_core._controlplane.pki import write_file

    key = tmp_path / "key.pem"
    key.write_text("old")
    os.chmod(key, 0o644)
    write_file(key, b"new", private=True)
    assert key.stat().st_mode & 0o777 == 0o600 and key.read_bytes() == b"new"
