"""Image references (``registry/repository:tag@sha256:...``), parsed once.

The rules follow Docker's reference grammar, because that is what pod specs
contain: the first path component is a registry host only if it has a ``.``
or a ``:`` or is ``localhost``; otherwise the registry is Docker Hub and a
one-component name gets the ``library/`` prefix.  A reference with neither tag
nor digest means ``:latest``.  Only ``sha256`` digests are accepted: they are
the only ones registries serve in practice and the store is keyed by them.
"""

from __future__ import annotations

import dataclasses
import re

from kubelet_core._provider.errors import ImagePullError

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclasses.dataclass(frozen=True)
class ImageReference:
    """A parsed reference; ``str()`` gives the canonical, fully qualified form."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse ``text``; raise ``ImagePullError(reason="InvalidImageName")`` if malformed."""
        original = text
        text = text.strip()
        if not text or text != original or "://" in text:
            raise _invalid(original)
        name, _, digest = text.partition("@")
        if digest and not _DIGEST.match(digest):
            raise _invalid(original, "only sha256:<64 hex> digests are supported")
        registry = DOCKER_HUB
        first, slash, rest = name.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, name = first, rest
            if not _HOST.match(registry):
                raise _invalid(original)
        tag: str | None = None
        last_slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > last_slash:
            name, tag = name[:colon], name[colon + 1 :]
            if not _TAG.match(tag):
                raise _invalid(original, f"bad tag {tag!r}")
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not _REPOSITORY.match(name):
            raise _invalid(original, "repository names are lowercase [a-z0-9._-] components")
        if tag is None and not digest:
            tag = "latest"
        return cls(registry=registry, repository=name, tag=tag, digest=digest or None)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def endpoint_host(self) -> str:
        """The host:port the HTTP API lives on (Docker Hub's differs from its name)."""
        return DOCKER_HUB_ENDPOINT if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest_key(self) -> str:
        """What goes in ``/v2/<name>/manifests/<key>``: the digest if any, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _invalid(text: str, why: str = "") -> ImagePullError:
    detail = f": {why}" if why else ""
    return ImagePullError(
        f"invalid image reference {text!r}{detail}", retryable=False, reason="InvalidImageName"
    )
