"""A small asynchronous client for the OCI distribution (Registry HTTP API v2).

Why not oras-py: it is synchronous (``requests``), so every pull would need a
thread, and its auth and error handling would have to be unwrapped to give
kubelet-style messages.  Pulling a wasm module needs only four calls (HEAD or
GET a manifest, GET a blob, and the token endpoint), so this client speaks
them directly on the agent's event loop with aiohttp and streams blobs to disk.

Authentication follows the registry's challenge: a ``401`` with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` makes the client
fetch a token from the realm (sending the pull secret's credentials as Basic
auth if there are any) and retry; ``Basic realm=...`` makes it retry with
Basic credentials.  Tokens are cached per (registry, scope, user); Basic is
sent up front once a registry has asked for it.

Transport: HTTPS, except plain HTTP for registries listed in
``insecure_registries`` (``host`` or ``host:port``) and for loopback hosts
(``localhost``, ``127.0.0.0/8``, ``::1``).  Loopback is plain HTTP because a
registry on the node's own loopback is a development setup (``kind``-style
local registries), traffic never leaves the machine, and Docker treats it the
same way.  The push methods exist for tests and tooling (``import`` of a file
into a registry); the agent itself only pulls.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp

from kubelet_core._modules.credentials import RegistryCredentials
from kubelet_core._modules.oci import ACCEPT, Descriptor
from kubelet_core._modules.reference import ImageReference
from kubelet_core._provider.errors import ImagePullError

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a blob downloads."""

_CHUNK = 1 << 16
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class AuthError(ImagePullError):
    """The registry refused us (401/403)."""


class RegistryClient:
    """Registry API calls for one aiohttp session; see the module docstring."""

    def __init__(
        self, session: aiohttp.ClientSession, *, insecure_registries: Iterable[str] = ()
    ) -> None:
        self._session = session
        self._insecure = {entry.strip().lower() for entry in insecure_registries if entry.strip()}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._basic_hosts: set[str] = set()

    # -- transport -----------------------------------------------------------------

    def base_url(self, ref: ImageReference) -> str:
        host = ref.endpoint_host
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        plain = is_loopback(host) or host.lower() in self._insecure or bare in self._insecure
        return f"{'http' if plain else 'https'}://{host}"

    async def _request(
        self,
        method: str,
        ref: ImageReference,
        path: str,
        creds: RegistryCredentials | None,
        *,
        actions: str = "pull",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        url: str | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request, answering the auth challenge once; caller releases the response."""
        host = ref.endpoint_host
        target = url or f"{self.base_url(ref)}/v2/{ref.repository}/{path}"
        scope = f"repository:{ref.repository}:{actions}"
        user = creds.username if creds else ""
        answered = False
        while True:
            sent = dict(headers or {})
            token = self._tokens.get((host, scope, user))
            if token:
                sent["Authorization"] = f"Bearer {token}"
            elif creds and host in self._basic_hosts:
                sent["Authorization"] = _basic(creds)
            try:
                resp = await self._session.request(method, target, headers=sent, data=data)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ImagePullError(f"cannot reach registry {host}: {_describe(exc)}") from None
            if resp.status not in (401, 403):
                return resp
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.release()
            if resp.status == 403 or answered:
                raise _denied(ref, resp.status, creds)
            answered = True
            kind, _, params_text = challenge.partition(" ")
            params = dict(_PARAM.findall(params_text))
            if kind.lower() == "bearer" and "realm" in params:
                self._tokens[(host, scope, user)] = await self._fetch_token(
                    ref, params, scope, creds
                )
            elif kind.lower() == "basic" and creds is not None:
                self._basic_hosts.add(host)
            else:
                raise _denied(ref, 401, creds)

    async def _fetch_token(
        self,
        ref: ImageReference,
        params: dict[str, str],
        scope: str,
        creds: RegistryCredentials | None,
    ) -> str:
        query = {"scope": params.get("scope") or scope}
        if "service" in params:
            query["service"] = params["service"]
        headers = {"Authorization": _basic(creds)} if creds else {}
        try:
            async with self._session.get(params["realm"], params=query, headers=headers) as resp:
                if resp.status in (401, 403):
                    raise _denied(ref, resp.status, creds)
                if resp.status != 200:
                    raise ImagePullError(
                        f"token endpoint {params['realm']} answered HTTP {resp.status}"
                    )
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImagePullError(
                f"cannot reach token endpoint {params['realm']}: {_describe(exc)}"
            ) from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ImagePullError(f"token endpoint {params['realm']} returned no token")
        return token

    # -- pulling -------------------------------------------------------------------

    async def head_manifest(
        self, ref: ImageReference, creds: RegistryCredentials | None
    ) -> str | None:
        """The manifest digest the registry reports for ``ref`` (None if it does not say)."""
        resp = await self._request(
            "HEAD", ref, f"manifests/{ref.manifest_key}", creds, headers={"Accept": ACCEPT}
        )
        try:
            if resp.status != 200:
                await _raise_for_manifest(ref, resp)
            return resp.headers.get("Docker-Content-Digest")
        finally:
            resp.release()

    async def get_manifest(
        self, ref: ImageReference, creds: RegistryCredentials | None, key: str | None = None
    ) -> tuple[str, str, bytes]:
        """(digest, content type, body) of the manifest of ``ref`` (or of digest ``key``).

        The digest is computed from the body; a digest in the reference, or the
        ``Docker-Content-Digest`` header, must match it.
        """
        key = key or ref.manifest_key
        resp = await self._request(
            "GET", ref, f"manifests/{key}", creds, headers={"Accept": ACCEPT}
        )
        try:
            if resp.status != 200:
                await _raise_for_manifest(ref, resp)
            body = await resp.read()
            content_type = resp.headers.get("Content-Type", "")
            header_digest = resp.headers.get("Docker-Content-Digest")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImagePullError(f"reading manifest of {ref}: {_describe(exc)}") from None
        finally:
            resp.release()
        digest = sha256_digest(body)
        expected = key if key.startswith("sha256:") else header_digest
        if expected and expected.startswith("sha256:") and expected != digest:
            raise ImagePullError(
                f"digest mismatch for manifest of {ref}: expected {expected}, got {digest}"
            )
        return digest, content_type, body

    async def fetch_blob(
        self,
        ref: ImageReference,
        blob: Descriptor,
        dest: Path,
        creds: RegistryCredentials | None,
        progress: Progress | None = None,
    ) -> bytes:
        """Stream ``blob`` into ``dest`` verifying size and digest; returns the first bytes."""
        resp = await self._request("GET", ref, f"blobs/{blob.digest}", creds)
        hasher = hashlib.sha256()
        done = 0
        head = b""
        try:
            if resp.status != 200:
                raise ImagePullError(f"blob {blob.digest} of {ref}: {await _error_text(resp)}")
            with dest.open("wb") as out:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    done += len(chunk)
                    if done > blob.size:
                        raise ImagePullError(
                            f"size mismatch for blob {blob.digest} of {ref}: "
                            f"more than the {blob.size} bytes the manifest declares"
                        )
                    if len(head) < 8:
                        head += chunk[: 8 - len(head)]
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(done, blob.size)
                out.flush()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImagePullError(f"downloading {blob.digest} of {ref}: {_describe(exc)}") from None
        finally:
            resp.release()
        if done != blob.size:
            raise ImagePullError(
                f"size mismatch for blob {blob.digest} of {ref}: "
                f"got {done} bytes, manifest declares {blob.size}"
            )
        actual = "sha256:" + hasher.hexdigest()
        if actual != blob.digest:
            raise ImagePullError(
                f"digest mismatch for blob of {ref}: expected {blob.digest}, got {actual}"
            )
        return head

    # -- pushing (tests, tooling) --------------------------------------------------

    async def push_blob(
        self, ref: ImageReference, data: bytes, media_type: str, creds: RegistryCredentials | None
    ) -> Descriptor:
        digest = sha256_digest(data)
        actions = "pull,push"
        resp = await self._request("HEAD", ref, f"blobs/{digest}", creds, actions=actions)
        resp.release()
        if resp.status != 200:
            resp = await self._request("POST", ref, "blobs/uploads/", creds, actions=actions)
            location = resp.headers.get("Location", "")
            status = resp.status
            resp.release()
            if status != 202 or not location:
                raise ImagePullError(f"push of {ref}: upload start answered HTTP {status}")
            if location.startswith("/"):
                location = self.base_url(ref) + location
            location += ("&" if "?" in location else "?") + f"digest={digest}"
            resp = await self._request(
                "PUT",
                ref,
                "",
                creds,
                actions=actions,
                url=location,
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            status = resp.status
            resp.release()
            if status != 201:
                raise ImagePullError(f"push of {ref}: blob upload answered HTTP {status}")
        return Descriptor(media_type, digest, len(data))

    async def push_manifest(
        self,
        ref: ImageReference,
        body: bytes,
        media_type: str,
        creds: RegistryCredentials | None,
    ) -> str:
        resp = await self._request(
            "PUT",
            ref,
            f"manifests/{ref.manifest_key}",
            creds,
            actions="pull,push",
            data=body,
            headers={"Content-Type": media_type},
        )
        try:
            if resp.status != 201:
                raise ImagePullError(f"push of {ref}: manifest {await _error_text(resp)}")
        finally:
            resp.release()
        return sha256_digest(body)


def _basic(creds: RegistryCredentials) -> str:
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return f"Basic {token}"


def _denied(ref: ImageReference, status: int, creds: RegistryCredentials | None) -> AuthError:
    who = f"as {creds.username!r}" if creds else "anonymously"
    return AuthError(
        f"pull access denied for {ref.name}, repository does not exist or may require "
        f"authorization: authorization failed (HTTP {status} {who})"
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection refused or unreachable ({exc.os_error})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


async def _error_text(resp: aiohttp.ClientResponse) -> str:
    """``HTTP 404 MANIFEST_UNKNOWN: manifest unknown`` from a registry error body."""
    detail = ""
    try:
        body: Any = json.loads(await resp.read())
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0]
            detail = f" {first.get('code', '')}: {first.get('message', '')}"
    except (ValueError, aiohttp.ClientError, TimeoutError, AttributeError):
        pass
    return f"HTTP {resp.status}{detail}"


async def _raise_for_manifest(ref: ImageReference, resp: aiohttp.ClientResponse) -> None:
    text = await _error_text(resp)
    if resp.status == 404:
        raise ImagePullError(f"manifest unknown: {ref} not found ({text})")
    raise ImagePullError(f"fetching manifest of {ref}: {text}")
