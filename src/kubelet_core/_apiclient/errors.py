"""Errors of the API client: one exception type for every failed request.

``ApiError`` carries the HTTP status and the ``Status`` object the API server
returned, so callers branch on ``status`` (404, 409, 410...) rather than on
exception classes.  An unreachable server (refused connection, reset stream,
timeout) is an ``ApiError`` too, with ``status == 0``: to the node agent both
mean "try again later", and one ``except ApiError`` covers them.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request that did not get a 2xx answer (``status == 0``: no answer at all)."""

    def __init__(
        self, status: int, reason: str, message: str, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def unreachable(self) -> bool:
        return self.status == 0

    @property
    def retryable(self) -> bool:
        """Worth retrying unchanged later: no answer, throttled, or a server-side failure."""
        return self.status == 0 or self.status == 429 or self.status >= 500


class ApiUnreachable(ApiError):
    """The API server could not be reached or dropped the connection."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "Unreachable", message)


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiError) and error.status in codes
