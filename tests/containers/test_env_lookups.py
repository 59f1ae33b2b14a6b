"""Env resolution reads each ConfigMap/Secret once per container start, not once per variable,
and through the node's object cache once a pod's watch has listed."""

from __future__ import annotations

import asyncio

from kubelet_core._containers.env import EnvResolver
from kubelet_core._volumes.objects import ObjectWatcher
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
    objects = ObjectWatcher(cluster.api)
    resolver = EnvResolver(node_name="n", node_ip="127.0.0.1", objects=objects.reader(None))
    values = dict(await resolver.resolve(pod, container))
    assert values == {"ALL_A": "1", "ALL_B": "2", "ALL_C": "3", "A": "1", "B": "2", "C": "3"}
    assert len(gets) == 1, gets


async def test_env_reads_the_pods_watched_objects_from_the_cache(cluster: ClusterHarness) -> None:
    await cluster.api.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"metadata": {"name": "live"}, "data": {"MODE": "one"}},
    )
    objects = ObjectWatcher(cluster.api)
    resolver = EnvResolver(node_name="n", node_ip="127.0.0.1", objects=objects.reader("pod:p"))
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}
    container = {
        "name": "c",
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "live", "key": "MODE"}}}
        ],
    }
    changed = asyncio.Event()
    try:
        assert await resolver.resolve(pod, container) == [("MODE", "one")]
        assert objects.watched == {("configmaps", "default", "live")}
        objects.subscribe(("configmaps", "default", "live"), "test", changed.set)
        await asyncio.wait_for(changed.wait(), 10)  # the watch has listed
        changed.clear()
        gets: list[str] = []
        cluster.api.add_observer(
            lambda verb, resource, code, seconds: gets.append(resource) if verb == "GET" else None
        )
        await cluster.api.patch(
            "/api/v1/namespaces/default/configmaps/live", {"data": {"MODE": "two"}}
        )
        await asyncio.wait_for(changed.wait(), 10)
        assert await resolver.resolve(pod, container) == [("MODE", "two")]
        assert gets == []  # served by the watch, not by a GET
        objects.unsubscribe("pod:p")
        objects.unsubscribe("test")
        assert not objects.watched
    finally:
        await objects.close()
