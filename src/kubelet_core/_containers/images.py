"""Image pulls as kubelet reports them: policy defaulting, events, ErrImagePull, back-off.

:func:`pull_with_backoff` calls the runtime's ``pull_image`` until it
succeeds, showing what kubelet shows: a Pulling event, then Pulled with the
time taken; on failure the container waits in ``ErrImagePull`` (Failed
events), then -- for the rest of an exponential back-off -- in
``ImagePullBackOff`` (a BackOff event), and tries again.  An error marked
``retryable=False`` (e.g. ``InvalidImageName``) is not retried until the pod
is updated.  The pod and container are re-read before every attempt, so an
image fixed by an update is picked up.

Pull secrets are the core's business, not the runtime's: before each attempt
:func:`pull_credentials` reads the pod's ``imagePullSecrets`` from the node's
object cache and picks the login for the image's registry, and the runtime
gets only that (``RegistryCredentials`` or None).  As kubelet does, a secret
that cannot be read is a ``FailedToRetrieveImagePullSecret`` warning and the
pull goes ahead without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import structlog

from kubelet_core._apiclient import ApiError
from kubelet_core._apiclient.objects import namespace as namespace_of
from kubelet_core._containers.backoff import Backoff, LifecycleTimings
from kubelet_core._containers.runtime import ContainerRuntime, ImagePull, ImageRef, PullPolicy
from kubelet_core._containers.status import ERR_IMAGE_PULL, IMAGE_PULL_BACKOFF, ContainerRecord
from kubelet_core._modules import ImageReference, RegistryCredentials, credentials_from_pull_secrets
from kubelet_core._provider.base import EventType, KubeObject
from kubelet_core._provider.errors import ImagePullError
from kubelet_core._volumes.objects import ObjectReader

log = structlog.get_logger(__name__)


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


def pull_secret_names(pod: KubeObject) -> list[str]:
    """The names in the pod's ``imagePullSecrets``, in order."""
    refs = (pod.get("spec") or {}).get("imagePullSecrets") or []
    names = [str(ref.get("name") or "") for ref in refs if isinstance(ref, dict)]
    return [name for name in names if name]


async def pull_credentials(
    objects: ObjectReader | None, pod: KubeObject, image: str, reporter: Reporter
) -> RegistryCredentials | None:
    """The login for ``image``'s registry from the pod's pull secrets, or None (anonymous)."""
    names = pull_secret_names(pod)
    if not names:
        return None
    try:
        registry = ImageReference.parse(image).registry
    except ImagePullError:
        return None  # not a registry image (file://...), or one the runtime refuses itself
    namespace = namespace_of(pod)
    secrets: list[KubeObject] = []
    missing: list[str] = []
    for name in names:
        try:
            secret = None if objects is None else await objects.get("secrets", namespace, name)
        except ApiError as exc:
            log.info("cannot read image pull secret", secret=name, error=exc.reason)
            secret = None
        if secret is None:
            missing.append(name)
        else:
            secrets.append(secret)
    if missing:
        reporter.event(
            "Warning",
            "FailedToRetrieveImagePullSecret",
            f"Unable to retrieve some image pull secrets ({', '.join(missing)}); "
            "attempting to pull the image may not succeed.",
        )
    return credentials_from_pull_secrets(secrets, registry)


async def pull_with_backoff(
    runtime: ContainerRuntime,
    record: ContainerRecord,
    current: Callable[[], tuple[KubeObject, KubeObject]],
    *,
    timings: LifecycleTimings,
    reporter: Reporter,
    updated: asyncio.Event,
    objects: ObjectReader | None = None,
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
            credentials = await pull_credentials(objects, pod, image, reporter)
            ref = await runtime.pull_image(ImagePull(pod, container, image, policy, credentials))
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
