"""Image pulls as kubelet reports them: policy defaulting, events, ErrImagePull, back-off.

:func:`pull_with_backoff` calls the runtime's ``pull_image`` until it
succeeds, showing what kubelet shows: a Pulling event, then Pulled with the
time taken; on failure the container waits in ``ErrImagePull`` (Failed
events), then -- for the rest of an exponential back-off -- in
``ImagePullBackOff`` (a BackOff event), and tries again.  An error marked
``retryable=False`` (e.g. ``InvalidImageName``) is not retried until the pod
is updated.  The pod and container are re-read before every attempt, so an
image fixed by an update is picked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from kubelet_core._containers.backoff import Backoff, LifecycleTimings
from kubelet_core._containers.runtime import ContainerRuntime, ImageRef, PullPolicy
from kubelet_core._containers.status import ERR_IMAGE_PULL, IMAGE_PULL_BACKOFF, ContainerRecord
from kubelet_core._provider.base import EventType, KubeObject
from kubelet_core._provider.errors import ImagePullError


class Reporter(Protocol):
    """How lifecycle helpers report: events, and "the pod's status changed"."""

    def event(self, event_type: EventType, reason: str, message: str) -> None: ...

    def notify(self) -> None: ...


def pull_policy(container: KubeObject) -> PullPolicy:
    """``imagePullPolicy``, defaulted as the API server does (Always for :latest/untagged)."""
    policy = container.get("imagePullPolicy")
    if policy in ("Always", "IfNotPresent", "Never"):
        return policy  # type: ignore[no-any-return]
    image = str(container.get("image", ""))
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def pull_secrets(pod: KubeObject) -> list[KubeObject]:
    """The pod's ``imagePullSecrets`` references (names only, for now)."""
    refs = (pod.get("spec") or {}).get("imagePullSecrets") or []
    return [{"name": str(ref.get("name", ""))} for ref in refs]


async def pull_with_backoff(
    runtime: ContainerRuntime,
    record: ContainerRecord,
    current: Callable[[], tuple[KubeObject, KubeObject]],
    *,
    timings: LifecycleTimings,
    reporter: Reporter,
    updated: asyncio.Event,
) -> ImageRef:
    """Pull the image of ``record``'s container; ``current()`` gives the (pod, container) now."""
    backoff = Backoff(timings.image_pull)
    loop = asyncio.get_running_loop()
    while True:
        pod, container = current()
        image = str(container.get("image", ""))
        record.image = image
        reporter.event("Normal", "Pulling", f'Pulling image "{image}"')
        began = loop.time()
        error: ImagePullError
        try:
            policy = pull_policy(container)
            ref = await runtime.pull_image(pod, container, policy, pull_secrets(pod))
        except asyncio.CancelledError:
            raise
        except ImagePullError as exc:
            error = exc
        except Exception as exc:
            error = ImagePullError(f"{type(exc).__name__}: {exc}")
        else:
            elapsed = loop.time() - began
            reporter.event(
                "Normal", "Pulled", f'Successfully pulled image "{image}" in {elapsed:.3f}s'
            )
            record.image_ref = ref
            return ref
        reason = error.reason or ERR_IMAGE_PULL
        record.set_waiting(reason, error.message)
        reporter.event("Warning", "Failed", f'Failed to pull image "{image}": {error.message}')
        reporter.event("Warning", "Failed", f"Error: {reason}")
        reporter.notify()
        if not error.retryable:  # retrying cannot help until the pod changes
            updated.clear()
            await updated.wait()
            continue
        delay = backoff.next_delay()
        hold = min(timings.image_pull_error_hold, delay)
        await asyncio.sleep(hold)
        record.set_waiting(
            IMAGE_PULL_BACKOFF, f'Back-off pulling image "{image}": {reason}: {error.message}'
        )
        reporter.event("Normal", "BackOff", f'Back-off pulling image "{image}"')
        reporter.event("Warning", "Failed", f"Error: {IMAGE_PULL_BACKOFF}")
        reporter.notify()
        await asyncio.sleep(delay - hold)
