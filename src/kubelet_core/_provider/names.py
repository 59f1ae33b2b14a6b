"""Object names as Kubernetes validates them, for the node side that builds paths from them.

The API server accepts only these shapes (the embedded control plane validates
with these same functions) (``apimachinery/pkg/util/validation``):
a namespace and a container name are DNS-1123 labels, a pod name a DNS-1123
subdomain.  None of them can contain ``/``, be ``.`` or ``..``, or hold a NUL,
so a name that passes can be a path segment.  Names reaching the node from
elsewhere (a kubelet API request path, a pod from a misbehaving API server)
are checked with these before they touch the filesystem.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: A pod uid as the node uses it in directory names (uuids; tests use other simple strings).
_UID = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_.]*")

LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)


class InvalidName(ValueError):
    """A name that Kubernetes would not accept for its kind."""

    def __init__(self, kind: str, name: str, why: str) -> None:
        super().__init__(f"invalid {kind} {name!r}: {why}")
        self.kind = kind
        self.name = name
        self.message = str(self)


def is_label(name: str) -> bool:
    """A DNS-1123 label: at most 63 lower-case alphanumerics and '-', alphanumeric at both ends."""
    return len(name) <= 63 and _LABEL.fullmatch(name) is not None


def is_subdomain(name: str) -> bool:
    """A DNS-1123 subdomain: labels joined by '.', at most 253 characters."""
    return len(name) <= 253 and _SUBDOMAIN.fullmatch(name) is not None


def label_error(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 label (at most 63 characters), None if it is."""
    if not name:
        return "must not be empty"
    if len(name) > 63:
        return "must be no more than 63 characters"
    return None if _LABEL.fullmatch(name) else LABEL_MESSAGE


def subdomain_error(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 subdomain (at most 253 characters), None if it is."""
    if not name:
        return "must not be empty"
    if len(name) > 253:
        return "must be no more than 253 characters"
    return None if _SUBDOMAIN.fullmatch(name) else SUBDOMAIN_MESSAGE


def check_namespace(name: str) -> str:
    if (why := label_error(name)) is not None:
        raise InvalidName("namespace", name, why)
    return name


def check_pod_name(name: str) -> str:
    if (why := subdomain_error(name)) is not None:
        raise InvalidName("pod name", name, why)
    return name


def check_container_name(name: str) -> str:
    if (why := label_error(name)) is not None:
        raise InvalidName("container name", name, why)
    return name


def check_uid(uid: str) -> str:
    """A pod uid usable as part of a directory name (empty allowed: a pod without one)."""
    if uid and (len(uid) > 128 or not _UID.fullmatch(uid)):
        raise InvalidName("pod uid", uid, "must be letters, digits, '-', '_' or '.'")
    return uid
