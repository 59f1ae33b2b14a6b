"""Env resolution reads each ConfigMap/Secret once per container start, not once per variable."""

from __future__ import annotations

from kubelet_core._containers.env import EnvResolver
from kubelet_core.testing import ClusterHarness


async def test_one_get_per_object_however_many_variables(cluster: ClusterHarness) -> None:
    await cluster.api.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"metadata": {"name": "settings"}, "data": {"A": "1", "B": "2", "C": "3"}},
    )
    gets: list[str] = []
    cluster.api.add_observer(
        lambda verb, resource, code, seconds: gets.append(resource) if verb == "GET" else None
    )
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "ALL_"}],
        "env": [
            {"name": k, "valueFrom": {"configMapKeyRef": {"name": "settings", "key": k}}}
            for k in ("A", "B", "C")
        ],
    }
    resolver = EnvResolver(node_name="n", node_ip="127.0.0.1", api=cluster.api)
    values = dict(await resolver.resolve(pod, container))
    assert values == {"ALL_A": "1", "ALL_B": "2", "ALL_C": "3", "A": "1", "B": "2", "C": "3"}
    assert len(gets) == 1, gets
