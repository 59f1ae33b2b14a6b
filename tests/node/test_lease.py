"""The node Lease: created with an owner reference, renewed, recreated."""

from __future__ import annotations

from kubelet_core._apiclient import lease_path
from tests.node.conftest import running, wait_for

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


async def test_lease_is_owned_by_the_node_and_renewed(api, node_config, provider):
    async with running(
        provider, node_config(heartbeat={"lease_renew_interval_seconds": 0.3})
    ) as agent:
        lease = await api.get(lease_path("node-a"))
        assert lease["spec"]["holderIdentity"] == "node-a"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": agent.node_uid}
        ]
        first = lease["spec"]["renewTime"]
        renewed = await wait_for(
            api, LEASES, "node-a", lambda lease: lease["spec"]["renewTime"] > first
        )
        assert renewed["spec"]["renewTime"] > first


async def test_deleted_lease_is_recreated(api, node_config, provider):
    async with running(provider, node_config(heartbeat={"lease_renew_interval_seconds": 0.3})):
        old = await api.get(lease_path("node-a"))
        await api.delete(lease_path("node-a"))
        new = await wait_for(
            api, LEASES, "node-a", lambda lease: lease["metadata"]["uid"] != old["metadata"]["uid"]
        )
        assert new["spec"]["holderIdentity"] == "node-a"


async def test_lease_conflict_is_rebased(api, node_config, provider):
    """Someone else writes the Lease: the agent's next renewal rebases instead of failing."""
    async with running(
        provider, node_config(heartbeat={"lease_renew_interval_seconds": 0.3})
    ) as agent:
        lease = await api.get(lease_path("node-a"))
        lease["metadata"].setdefault("labels", {})["example.com/touched"] = "yes"
        await api.replace(lease_path("node-a"), lease)
        renewals = agent.lease.renewals
        renewed = await wait_for(
            api,
            LEASES,
            "node-a",
            lambda item: (
                item["spec"]["renewTime"] > lease["spec"]["renewTime"]
                and agent.lease.renewals > renewals
            ),
        )
        assert renewed["metadata"]["labels"]["example.com/touched"] == "yes"
