"""ContainerProvider: a complete :class:`Provider` for providers that run containers themselves.

Subclass it and implement only :meth:`node_profile`, :meth:`pull_image` and
:meth:`start_container` (the :class:`ContainerRuntime` half); everything
Kubernetes-shaped -- init containers, restart policies, CrashLoopBackOff,
image-pull back-off, container states, env and volumes, log files,
``activeDeadlineSeconds``, graceful deletion -- is done here, the same way
for every runtime, by one :class:`PodRunner` task per pod.

Subclasses may override :meth:`start` and :meth:`shutdown` (calling
``super()``), set :attr:`container_id_scheme` (``containerID`` becomes
``<scheme>://<pod-uid>/<container>/<restartCount>``) and :attr:`timings`
(the back-off constants; tests shrink them).  :attr:`context` holds the
:class:`ProviderContext` once :meth:`start` has run.

What the lifecycle expects of the runtime half:

* ``pull_image`` may be called before every (re)start of a container; make
  it cheap when the image is already there (``IfNotPresent``).  Raise
  ``ImagePullError`` (``retryable=False`` for errors only a pod update can
  fix, e.g. reason ``InvalidImageName``); any other exception is reported as
  ErrImagePull too.  It may be cancelled (the pod was deleted).
* ``start_container`` returns once the container runs; raise
  ``ContainerStartError`` (a ``terminated`` state, exit code and reason from
  the error, then the restart policy decides), with
  ``reason="CreateContainerError"`` for "could not even be created" (a
  waiting state, retried), or ``InvalidPodSpec`` to fail the whole pod.  It
  is not cancelled when the pod is deleted meanwhile (the container is
  stopped once started), unless it hangs past the grace period.
* ``RunningContainer.wait`` may be awaited more than once and must not stop
  the container when the awaiting task is cancelled.  ``stop(grace)`` may
  return at once or when the container is gone; the lifecycle waits for
  ``wait()`` up to ``grace`` plus ``timings.stop_slack`` and then reports the
  container as killed (exit 137) whether the runtime managed it or not.
* stdout and stderr go to ``launch.log_path`` (opened for append), best
  through :class:`~kubelet_core._containers.logs.LogWriter` with
  ``self.context.log_policy`` so the node's log rotation applies; the
  lifecycle never reads the container's output itself except to serve logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import structlog

from kubelet_core._apiclient.objects import key as key_of
from kubelet_core._apiclient.objects import uid as uid_of
from kubelet_core._containers.backoff import LifecycleTimings
from kubelet_core._containers.lifecycle import PodRunner
from kubelet_core._containers.logs import LogStore, runs_on_disk, stream_log
from kubelet_core._containers.runtime import ContainerRuntime
from kubelet_core._containers.stats import collect_pod_stats
from kubelet_core._containers.volumes import CONTENT_DIRS, PodVolumes, remove_stale
from kubelet_core._provider.base import KubeObject, LogOptions, PodKey, Provider, ProviderContext
from kubelet_core._provider.errors import NotFound
from kubelet_core._provider.names import InvalidName
from kubelet_core._provider.stats import PodStats
from kubelet_core._volumes.host import make_volume_host
from kubelet_core._volumes.safepath import resolve_beneath
from kubelet_core._volumes.sources import VolumeHost
from kubelet_core._volumes.trees import remove_tree

log = structlog.get_logger(__name__)


def _key(pod: KubeObject) -> str:
    """A runner's key: the pod's uid (a namesake is another pod), else ``namespace/name``."""
    return uid_of(pod) or key_of(pod)


class ContainerProvider(Provider, ContainerRuntime):
    """Provider base class owning the shared container lifecycle (see module docstring)."""

    #: Scheme of the ``containerID`` reported in container statuses.
    container_id_scheme: ClassVar[str] = "wasmlet"
    #: Grace period given to running containers when the agent shuts down.
    shutdown_grace_seconds: ClassVar[float] = 5.0
    #: Back-off constants (instance attribute when given to ``__init__``).
    timings: LifecycleTimings = LifecycleTimings()
    #: Set by :meth:`start`.
    context: ProviderContext
    #: Node-wide volume services (watches, tokens, tmpfs), set by :meth:`start`.
    volume_host: VolumeHost

    def __init__(self, *, timings: LifecycleTimings | None = None) -> None:
        if timings is not None:
            self.timings = timings

    @property
    def _runners(self) -> dict[str, PodRunner]:
        """Runners by pod uid (created lazily: subclasses need not call ``__init__``)."""
        runners: dict[str, PodRunner] | None = self.__dict__.get("_runner_map")
        if runners is None:
            runners = self.__dict__["_runner_map"] = {}
        return runners

    def _require_context(self) -> ProviderContext:
        context: ProviderContext | None = self.__dict__.get("context")
        if context is None:
            raise RuntimeError(f"{type(self).__name__}.start() has not been called")
        return context

    # -- Provider ------------------------------------------------------------------------------

    async def start(self, context: ProviderContext) -> None:
        self.context = context
        host = self.volume_host = make_volume_host(
            context.api,
            node_name=context.node_name,
            node_ip=context.node_ip,
            data_dir=context.data_dir,
            allowed_host_paths=context.allowed_host_paths,
        )
        await self._remove_stale_volumes(context, host)

    async def _remove_stale_volumes(self, context: ProviderContext, host: VolumeHost) -> None:
        """What a crashed or stopped agent left on disk, once the node's pods are known.

        Containers, volumes and logs of pods the API no longer has go.  Content
        volumes of kept pods are rewritten on create: where containers survive the
        agent, they still use the directories of their pod's volumes, which the
        rewrite updates in place (the ``..data`` swap), so only those stay.
        """
        pods: dict[str, set[str]] | None = None  # uid -> volume names; None: no API
        if context.api is not None:
            try:
                pods = await _volumes_of_node_pods(context)
            except Exception as exc:
                log.warning("cannot list pods; keeping old volume directories", error=str(exc))
                if host.secret_root is not None and not self.survives_agent_restart:
                    await asyncio.to_thread(remove_stale, [host.secret_root], None)
                return
            try:
                await self.discard_containers(set(pods))
            except Exception as exc:
                log.warning("cannot discard containers of deleted pods", error=repr(exc))
        removed = await asyncio.to_thread(
            _prune_node_files,
            context.data_dir,
            host.secret_root,
            pods,
            keep_content=self.survives_agent_restart,
        )
        if removed:
            log.info("removed stale pod volume directories", count=len(removed))

    async def create_pod(self, pod: KubeObject) -> None:
        context = self._require_context()
        key = _key(pod)
        existing = self._runners.get(key)
        if existing is not None:
            existing.update(pod)
            return
        runner = PodRunner(
            pod,
            runtime=self,
            context=context,
            timings=self.timings,
            logs=LogStore(context.data_dir / "pods"),
            volumes_root=context.data_dir / "volumes",
            id_scheme=self.container_id_scheme,
            volume_host=self.__dict__.get("volume_host"),
        )
        self._runners[key] = runner
        runner.start()

    async def update_pod(self, pod: KubeObject) -> None:
        runner = self._runners.get(_key(pod))
        if runner is not None:
            runner.update(pod)

    async def delete_pod(self, pod: KubeObject, grace_period_seconds: float) -> None:
        key = _key(pod)
        runner = self._runners.get(key)
        if runner is None:
            # Unknown (or already deleted): still make sure nothing is left on disk.
            context = self.__dict__.get("context")
            if context is not None and uid_of(pod):
                volumes = PodVolumes(
                    context.data_dir / "volumes", pod, host=self.__dict__.get("volume_host")
                )
                await asyncio.to_thread(LogStore(context.data_dir / "pods").remove_pod, pod)
                await volumes.aremove()
            return
        await runner.terminate(max(0.0, float(grace_period_seconds)))
        await runner.cleanup()  # off the event loop: a pod's files can take seconds to remove
        if self._runners.get(key) is runner:
            del self._runners[key]

    async def get_pod_status(self, pod: KubeObject) -> KubeObject | None:
        runner = self._runners.get(_key(pod))
        return None if runner is None else runner.status()

    async def list_pods(self) -> list[PodKey]:
        return [PodKey(r.namespace, r.name, r.uid) for r in self._runners.values()]

    async def container_logs(
        self, namespace: str, pod_name: str, container: str, options: LogOptions
    ) -> AsyncIterator[bytes]:
        matches = [
            r for r in self._runners.values() if r.namespace == namespace and r.name == pod_name
        ]
        if matches:
            path, ended = matches[-1].log_source(container, options.previous)
        else:  # not running here (any more): a finished pod, maybe from before an agent restart
            path, ended = self._log_on_disk(namespace, pod_name, container, options.previous), None
        async for chunk in stream_log(
            path, options, ended=ended, poll_max=self.timings.log_poll_max
        ):
            yield chunk

    def _log_on_disk(self, namespace: str, pod_name: str, container: str, previous: bool) -> Path:
        """The log file of a pod this agent does not run, found on disk by name.

        The names come from a request: each is checked as Kubernetes validates
        it (an invalid one names no pod: NotFound), and the file found must
        resolve beneath the logs directory (no symlink leads out of it).
        """
        store = LogStore(self._require_context().data_dir / "pods")
        try:
            pod_dir = store.find_pod_dir(namespace, pod_name)
            container_dir = None if pod_dir is None else store.container_dir(pod_dir, container)
        except InvalidName as error:
            raise NotFound(error.message) from None
        if pod_dir is None or container_dir is None:
            raise NotFound(f'pods "{pod_name}" not found')
        runs = runs_on_disk(container_dir)
        if not runs:
            raise NotFound(f"container {container} is not valid for pod {pod_name}")
        if previous and len(runs) < 2:
            raise NotFound(
                f'previous terminated container "{container}" in pod "{pod_name}" not found'
            )
        path = container_dir / f"{runs[-2] if previous else runs[-1]}.log"
        try:
            return resolve_beneath(store.root, path)
        except OSError:
            raise NotFound(f"container {container} is not valid for pod {pod_name}") from None

    async def pod_stats(self) -> list[PodStats]:
        """CPU and memory of the running containers (the ``StatsProvider`` ability)."""
        return collect_pod_stats(self._runners.values())

    async def shutdown(self) -> None:
        """Stop every container -- or, where containers outlive the agent and
        ``context.keep_pods_on_exit`` is set, leave them running -- quietly: no
        status or event says the pods ended.

        The agent is going away, not the pods; their files stay for a restarted
        agent (which re-adopts surviving containers and cleans up what the API
        no longer has).
        """
        runners = list(self._runners.values())
        self._runners.clear()
        for runner in runners:
            runner.mute()
        context: ProviderContext | None = self.__dict__.get("context")
        detach = self.survives_agent_restart and context is not None and context.keep_pods_on_exit
        results = await asyncio.gather(
            *(r.detach() if detach else r.terminate(self.shutdown_grace_seconds) for r in runners),
            return_exceptions=True,
        )
        for runner, result in zip(runners, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("stopping pod at shutdown failed", pod=runner.name, error=repr(result))
        host: VolumeHost | None = self.__dict__.get("volume_host")
        if host is not None:
            await host.objects.close()


async def _volumes_of_node_pods(context: ProviderContext) -> dict[str, set[str]]:
    """The uid and volume names of every pod bound to this node, from the API."""
    selector = {"fieldSelector": f"spec.nodeName={context.node_name}"}
    listed = await context.api.request("GET", "/api/v1/pods", params=selector)
    return {
        uid_of(pod): {str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []}
        for pod in listed.get("items") or []
    }


def _prune_node_files(
    data_dir: Path,
    secret_root: Path | None,
    pods: dict[str, set[str]] | None,
    *,
    keep_content: bool,
) -> list[str]:
    """Remove what belongs to no pod in ``pods`` (None: no pod is known); blocking."""
    keep = None if pods is None else set(pods)
    if secret_root is not None:  # rewritten on create, unless containers still use them
        remove_stale([secret_root], keep if keep_content else None)
    volumes = data_dir / "volumes"
    removed = remove_stale([volumes], keep)
    if keep is not None:  # logs of pods deleted while the agent was away (never guessed)
        remove_stale([data_dir / "pods"], keep)
    for pod_dir in _subdirs(volumes):
        wanted = (pods or {}).get(pod_dir.name.rsplit("_", 1)[-1], set()) if keep_content else set()
        for kind in CONTENT_DIRS:
            for volume in _subdirs(pod_dir / kind):
                if volume.name not in wanted:
                    remove_tree(volume)
    return removed


def _subdirs(path: Path) -> list[Path]:
    try:
        return [entry for entry in path.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except OSError:
        return []
