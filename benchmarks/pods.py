"""Pod manifests for the benchmarks, and a watch that timestamps every pod's phases.

Latencies are measured as the driver sees them through one watch: from the
``ADDED`` event of a pod (its creation as any watcher sees it) to the first event
showing phase ``Running`` (or already ``Succeeded``/``Failed``, for modules that
exit before a Running status is written) and to ``Succeeded``.  Using watch
arrival times at both ends makes wasmlet's figures and the floor's comparable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from kubelet_core._apiclient import ApiError, ApiUnreachable, KubeApi

KubeObject = dict[str, Any]
#: Where the benchmark's pods go; ``use_namespace`` changes it (``--namespace``).
NAMESPACE = "default"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
HELLO = "examples.wasmlet.dev/hello-wasi:v1"
SCRIPT = "examples.wasmlet.dev/wasi-script:v1"
RUN_LABEL = "wasmlet.dev/bench-run"
#: Pods' termination grace period.  A module blocked in ``poll_oneoff`` (the sleeping
#: pods) cannot be interrupted, so deleting one takes this long (see the README).
GRACE_SECONDS = 2


def use_namespace(namespace: str) -> None:
    """Put every pod of this run in ``namespace`` (set once, before any scenario runs)."""
    global NAMESPACE, PODS
    NAMESPACE = namespace
    PODS = f"/api/v1/namespaces/{namespace}/pods"


def pods_path() -> str:
    """The pods collection of the run's namespace (read at call time: see ``use_namespace``)."""
    return PODS


def pod(
    name: str,
    node: str,
    run: str,
    *,
    image: str = HELLO,
    args: list[str] | None = None,
    restart_policy: str = "Never",
) -> KubeObject:
    """One container pod pinned to ``node`` by nodeSelector (the scheduler still binds it)."""
    container: KubeObject = {"name": "main", "image": image}
    if args is not None:
        container["args"] = args
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {RUN_LABEL: run}},
        "spec": {
            "containers": [container],
            "restartPolicy": restart_policy,
            "nodeSelector": {"kubernetes.io/hostname": node},
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": GRACE_SECONDS,
        },
    }


def sleeper(name: str, node: str, run: str) -> KubeObject:
    """A pod that stays Running (the scripted module sleeping ten minutes)."""
    return pod(name, node, run, image=SCRIPT, args=["sleep", "600000"])


class PodTracker:
    """Lists then watches the pods of one run label, recording when each phase was first seen."""

    def __init__(self, api: KubeApi, run: str) -> None:
        self.api = api
        self.run = run
        self.added: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.succeeded: dict[str, float] = {}
        self.failed: dict[str, float] = {}
        self.deleted: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()

    async def __aenter__(self) -> PodTracker:
        self._task = asyncio.ensure_future(self._watch())
        await asyncio.wait_for(self._opened.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    def _record(self, kind: str, obj: KubeObject) -> None:
        now = time.perf_counter()
        name = str(obj["metadata"]["name"])
        if kind == "DELETED":
            self.deleted.setdefault(name, now)
        else:
            self.added.setdefault(name, now)
            phase = (obj.get("status") or {}).get("phase")
            if phase in ("Running", "Succeeded", "Failed"):
                self.running.setdefault(name, now)
            if phase == "Succeeded":
                self.succeeded.setdefault(name, now)
            if phase == "Failed":
                self.failed.setdefault(name, now)
        self._changed.set()

    async def _watch(self) -> None:
        params = {"labelSelector": f"{RUN_LABEL}={self.run}"}
        while True:
            listing = await self.api.request("GET", PODS, params=params)
            for item in listing.get("items", []):
                self._record("ADDED", item)
            watch_params = {
                **params,
                "resourceVersion": listing["metadata"]["resourceVersion"],
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "3600",
            }
            async for event in self.api.watch(PODS, params=watch_params, on_open=self._opened.set):
                kind = event.get("type")
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self._record(str(kind), event["object"])
                elif kind == "ERROR":
                    break

    async def wait_for(
        self,
        condition: Callable[[], bool],
        timeout: float,
        progress: Callable[[], None] | None = None,
    ) -> bool:
        """Wait (event-driven) until ``condition()``; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
            if progress is not None:
                progress()
        return True

    @staticmethod
    def all_seen(seen: dict[str, float], names: Iterable[str]) -> Callable[[], bool]:
        """A condition for :meth:`wait_for`: every one of ``names`` is in ``seen``."""
        expected = list(names)
        return lambda: all(n in seen for n in expected)

    def latencies(self, names: Iterable[str], ends: dict[str, float]) -> list[float]:
        return sorted(ends[n] - self.added[n] for n in names if n in ends and n in self.added)


async def create_all(
    api: KubeApi, manifests: list[KubeObject], concurrency: int = 64
) -> tuple[float, float]:
    """POST every manifest, ``concurrency`` at a time; (first sent, last accepted) times."""
    queue = list(reversed(manifests))
    began = time.perf_counter()

    async def worker() -> None:
        while queue:
            await create(api, queue.pop())

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(manifests)))))
    return began, time.perf_counter()


async def create(api: KubeApi, body: KubeObject, attempts: int = 3) -> None:
    """POST one pod; a request that timed out is sent again (409: the first one landed).

    Stalls of the API server are not hidden: the driver's request observer
    (see ``benchmarks.__main__``) reports failed and slow requests.
    """
    for attempt in range(attempts):
        try:
            await api.request("POST", PODS, body=body)
            return
        except ApiUnreachable:  # no answer (timeout, reset): the server may have stalled
            if attempt == attempts - 1:
                raise
        except ApiError as error:
            if error.status == 409 and attempt > 0:
                return
            raise


async def delete_all(
    api: KubeApi, names: list[str], *, grace: int | None = None, concurrency: int = 64
) -> tuple[float, float]:
    """DELETE every pod (agent-side graceful delete unless ``grace`` is given)."""
    queue = list(reversed(names))
    params = {"gracePeriodSeconds": str(grace)} if grace is not None else None
    began = time.perf_counter()

    async def worker() -> None:
        while queue:
            name = queue.pop()
            with contextlib.suppress(Exception):  # already gone
                await api.request("DELETE", f"{PODS}/{name}", params=params)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(names)))))
    return began, time.perf_counter()


async def force_delete_run(api: KubeApi, run: str) -> None:
    """Remove every pod of a run at once (grace 0), e.g. after its agent stopped."""
    listing = await api.request("GET", PODS, params={"labelSelector": f"{RUN_LABEL}={run}"})
    names = [str(i["metadata"]["name"]) for i in listing.get("items", [])]
    await delete_all(api, names, grace=0)
