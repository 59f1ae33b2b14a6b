"""Authentication and authorization of the kubelet API, over real TLS and real reviews."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from kubelet_core._kubeletapi import KubeletApiServer
from kubelet_core._kubeletapi.auth import request_attributes
from tests.kubeletapi.conftest import (
    NODE,
    FileLogProvider,
    Pki,
    ReviewServer,
    client_context,
    fetch,
)


async def test_no_credentials_is_401(server: KubeletApiServer, http: aiohttp.ClientSession) -> None:
    status, body = await fetch(http, server, "/healthz")
    assert (status, body) == (401, "Unauthorized")


async def test_admin_client_certificate_is_allowed(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    assert await fetch(http, server, "/healthz", cert=pki.admin) == (200, "ok")


async def test_certificate_from_another_ca_is_refused(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    try:
        status, _ = await fetch(http, server, "/healthz", cert=pki.rogue)
    except (aiohttp.ClientError, ssl.SSLError):
        return  # refused during the handshake
    assert status == 401


async def test_rbac_decides_per_subresource(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "hello\n")
    # alice may get nodes/stats (a ClusterRoleBinding), nothing else.
    status, _ = await fetch(http, server, "/stats/summary", cert=pki.alice)
    assert status == 200
    status, body = await fetch(http, server, "/containerLogs/default/web/app", cert=pki.alice)
    assert status == 403
    assert body == "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)"
    status, body = await fetch(http, server, "/metrics/resource", cert=pki.alice)
    assert (status, body) == (
        403,
        "Forbidden (user=alice, verb=get, resource=nodes, subresource=metrics)",
    )


async def test_bearer_tokens_are_reviewed(
    server: KubeletApiServer, http: aiohttp.ClientSession, review_server: ReviewServer
) -> None:
    assert await fetch(http, server, "/healthz", token="admin-token") == (200, "ok")
    status, body = await fetch(http, server, "/healthz", token="nobody-token")
    assert status == 403
    assert "user=nobody" in body
    status, _ = await fetch(http, server, "/healthz", token="no-such-token")
    assert status == 401
    status, _ = await fetch(http, server, "/stats/summary", token="alice-token")
    assert status == 200


async def test_decisions_are_cached(
    server: KubeletApiServer, http: aiohttp.ClientSession, review_server: ReviewServer
) -> None:
    for _ in range(3):
        assert (await fetch(http, server, "/healthz", token="admin-token"))[0] == 200
        assert (await fetch(http, server, "/healthz", token="nobody-token"))[0] == 403
    reviews = [path.rsplit("/", 1)[1] for path in review_server.requests]
    # One token review and one access review per identity, whatever the request count.
    assert sorted(reviews) == sorted(["tokenreviews", "subjectaccessreviews"] * 2)


async def test_unknown_token_is_refused_before_any_access_review(
    server: KubeletApiServer, http: aiohttp.ClientSession, review_server: ReviewServer
) -> None:
    status, _ = await fetch(http, server, "/healthz", token="late-token")
    assert status == 401
    assert review_server.requests == ["/apis/authentication.k8s.io/v1/tokenreviews"]


async def test_anonymous_is_allowed_only_when_enabled(
    provider: FileLogProvider, pki: Pki, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # No control plane to ask: client certificates are trusted and every caller allowed.
    server = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "serving",
        client_ca_file=pki.ca.cert,
        api=None,
        anonymous_auth=True,
    )
    async with server:
        assert await fetch(http, server, "/healthz") == (200, "ok")
        assert await fetch(http, server, "/healthz", cert=pki.alice) == (200, "ok")
        # A token cannot be reviewed without a control plane: refused, not anonymous.
        assert (await fetch(http, server, "/healthz", token="x"))[0] == 401


async def test_without_client_ca_certificates_are_not_trusted(
    provider: FileLogProvider, pki: Pki, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = KubeletApiServer(
        provider,
        node_name=NODE,
        host="127.0.0.1",
        port=0,
        cert_dir=tmp_path / "serving",
        client_ca_file=None,
        api=None,
    )
    async with server:
        assert (await fetch(http, server, "/healthz", cert=pki.admin))[0] == 401


@pytest.mark.parametrize(
    ("method", "path", "verb", "subresource"),
    [
        ("GET", "/stats/summary", "get", "stats"),
        ("GET", "/stats", "get", "stats"),
        ("GET", "/statsfoo", "get", "proxy"),
        ("GET", "/metrics", "get", "metrics"),
        ("GET", "/metrics/resource", "get", "metrics"),
        ("GET", "/logs/kubelet.log", "get", "log"),
        ("GET", "/containerLogs/ns/pod/ctr", "get", "proxy"),
        ("GET", "/pods", "get", "proxy"),
        ("POST", "/exec/ns/pod/ctr", "create", "proxy"),
        ("HEAD", "/healthz", "get", "proxy"),
    ],
)
def test_paths_map_to_node_subresources_as_kubelet_does(
    method: str, path: str, verb: str, subresource: str
) -> None:
    attrs = request_attributes(method, path, "n1")
    assert (attrs.verb, attrs.resource, attrs.subresource, attrs.name) == (
        verb,
        "nodes",
        subresource,
        "n1",
    )


async def test_a_forbidden_request_closes_its_connection(
    server: KubeletApiServer, http: aiohttp.ClientSession
) -> None:
    """Review finding: 403s were kept alive, so any valid but unprivileged token could
    hold the whole connection cap."""
    async with http.get(
        server.url + "/healthz",
        headers={"Authorization": "Bearer nobody-token"},
        ssl=client_context(server, None),
    ) as response:
        assert response.status == 403
        assert response.headers.get("Connection", "").lower() == "close"
