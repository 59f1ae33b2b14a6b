"""The floor: the least API work a node agent must do to start a pod, by a raw client.

``python -m benchmarks.floor --kubeconfig K --node NAME`` registers a fake node that
is Ready (so the scheduler binds pods to it), watches the pods bound to it and
merge-patches each one's status to ``Running`` and Ready (eight writers in parallel) -- one
watch event in, one PATCH out, nothing else; a pod being deleted is deleted at once
(grace 0), as a kubelet does once nothing of the pod runs.  It runs in its own process, like
the agent, so the start latency it achieves is the best any agent could reach on
this control plane and this machine; wasmlet's latency divided by it is the agent's overhead ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
from pathlib import Path
from typing import Any

from kubelet_core._apiclient import KubeApi

KubeObject = dict[str, Any]
#: Status writers working in parallel (each on its own kept-alive connection).
WORKERS = 8


def node_manifest(name: str) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "wasmlet.dev/bench-floor": "true"},
        },
        "spec": {"taints": [{"key": "wasmlet.dev/floor", "value": "true", "effect": "NoSchedule"}]},
    }


def node_status() -> KubeObject:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "FloorReady",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "capacity": {"pods": "100000", "cpu": "2", "memory": "8Gi"},
            "allocatable": {"pods": "100000", "cpu": "2", "memory": "8Gi"},
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        }
    }


async def register(api: KubeApi, name: str) -> None:
    with contextlib.suppress(Exception):  # already there from an earlier step
        await api.request("POST", "/api/v1/nodes", body=node_manifest(name))
    await api.request("PATCH", f"/api/v1/nodes/{name}/status", body=node_status())


async def serve(kubeconfig: Path, node: str) -> None:
    api = await KubeApi.from_kubeconfig(kubeconfig, qps=100000, burst=100000)
    await register(api, node)
    done: set[str] = set()
    queue: asyncio.Queue[KubeObject] = asyncio.Queue()

    async def mark_running() -> None:
        while True:
            meta = (await queue.get())["metadata"]
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
            started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ready = [
                {"type": kind, "status": "True", "lastTransitionTime": started}
                for kind in ("Ready", "ContainersReady")  # what makes a replica available
            ]
            body = {
                "status": {
                    "phase": "Running",
                    "hostIP": "127.0.0.1",
                    "startTime": started,
                    "conditions": ready,
                }
            }
            with contextlib.suppress(Exception):  # deleted meanwhile
                await api.request("PATCH", path, body=body)

    removing: set[str] = set()
    deletions: asyncio.Queue[KubeObject] = asyncio.Queue()

    async def remove() -> None:
        while True:
            meta = (await deletions.get())["metadata"]
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
            with contextlib.suppress(Exception):  # gone already
                await api.request("DELETE", path, body=body)

    # A few workers on kept-alive connections, as a real client would use (a task per
    # pod would open a TLS connection per pod in a burst, which measures handshakes).
    workers = [asyncio.ensure_future(mark_running()) for _ in range(WORKERS)]
    workers += [asyncio.ensure_future(remove()) for _ in range(WORKERS // 2)]
    params = {"fieldSelector": f"spec.nodeName={node}"}
    heartbeat = asyncio.ensure_future(_heartbeat(api, node))
    try:
        while True:
            listing = await api.request("GET", "/api/v1/pods", params=params)
            events = [{"type": "ADDED", "object": i} for i in listing.get("items", [])]
            watch = {
                **params,
                "resourceVersion": listing["metadata"]["resourceVersion"],
                "timeoutSeconds": "3600",
            }
            print("floor ready", flush=True)
            async for event in _chain(events, api.watch("/api/v1/pods", params=watch)):
                if event.get("type") == "ERROR":
                    break
                if event.get("type") not in ("ADDED", "MODIFIED"):
                    continue
                pod = event["object"]
                uid = str(pod["metadata"]["uid"])
                if pod["metadata"].get("deletionTimestamp"):
                    if uid not in removing:  # nothing runs: gone at once, as a kubelet would
                        removing.add(uid)
                        deletions.put_nowait(pod)
                    continue
                if uid in done or (pod.get("status") or {}).get("phase") == "Running":
                    continue
                done.add(uid)
                queue.put_nowait(pod)
    finally:
        heartbeat.cancel()
        for worker in workers:
            worker.cancel()
        await api.close()


async def _heartbeat(api: KubeApi, node: str) -> None:
    """Keep the fake node Ready, as a lease-less agent would (every 10 s)."""
    while True:
        await asyncio.sleep(10)
        with contextlib.suppress(Exception):
            await api.request("PATCH", f"/api/v1/nodes/{node}/status", body=node_status())


async def _chain(first: list[KubeObject], rest: Any) -> Any:
    for item in first:
        yield item
    async for item in rest:
        yield item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--node", required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.kubeconfig, args.node))


if __name__ == "__main__":
    main()
