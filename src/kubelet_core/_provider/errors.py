"""Typed errors a provider raises for failures the user (not the agent) caused.

The core maps each to what kubelet would show: ``NotFound`` ends the lookup
quietly, ``InvalidPodSpec`` fails the pod with a reason and a Warning event,
``ContainerStartError`` terminates one container with a reason and message and
lets the restart policy decide what comes next.  Every error carries a short
CamelCase ``reason`` (as in pod and container statuses) and a human message.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error the core knows how to report."""

    reason: str = "ProviderFailed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class NotFound(ProviderError):
    """The pod or container does not exist in the provider."""

    reason = "NotFound"


class NotSupported(ProviderError):
    """The provider does not offer this ability (exec, logs, ...)."""

    reason = "NotSupported"


class InvalidPodSpec(ProviderError):
    """The pod asks for something this provider can never do (no retry helps)."""

    reason = "InvalidPodSpec"


class ImagePullError(ProviderError):
    """A module or image could not be fetched; the core backs off and retries.

    ``retryable=False`` for errors retrying cannot fix (unknown tag stays
    unknown until someone pushes it, so that one *is* retryable; a malformed
    reference is not).
    """

    reason = "ErrImagePull"

    def __init__(self, message: str, *, retryable: bool = True, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retryable = retryable


class ContainerConfigError(ProviderError):
    """The container's configuration cannot be resolved (env, volumes, mounts)."""

    reason = "CreateContainerConfigError"


class ContainerStartError(ProviderError):
    """The container could not start (bad module, missing entry point, ...)."""

    reason = "StartError"

    def __init__(self, message: str, *, reason: str | None = None, exit_code: int = 128) -> None:
        super().__init__(message, reason=reason)
        self.exit_code = exit_code
