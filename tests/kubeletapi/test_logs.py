"""``/containerLogs``: options reach the provider, the stream is live, errors map to statuses."""

from __future__ import annotations

import asyncio
import datetime

import aiohttp

from kubelet_core._kubeletapi import KubeletApiServer
from kubelet_core._kubeletapi.logs import BadQuery, parse_log_options
from tests.kubeletapi.conftest import FileLogProvider, Pki, client_context, fetch

LOG = "".join(f"line {i}\n" for i in range(1, 6))
PATH = "/containerLogs/default/web/app"


async def test_whole_log(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", LOG)
    async with http.get(server.url + PATH, ssl=client_context(server, pki.admin)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert await response.text() == LOG


async def test_tail_lines_and_limit_bytes(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", LOG)
    tail = await fetch(http, server, PATH, cert=pki.admin, params={"tailLines": "2"})
    assert tail == (200, "line 4\nline 5\n")
    # The test provider ignores limitBytes: the server cuts the stream itself.
    limited = await fetch(http, server, PATH, cert=pki.admin, params={"limitBytes": "9"})
    assert limited == (200, "line 1\nli")
    both = await fetch(
        http, server, PATH, cert=pki.admin, params={"tailLines": "1", "limitBytes": "4"}
    )
    assert both == (200, "line")
    assert provider.options[0].tail_lines == 2
    assert provider.options[1].limit_bytes == 9


async def test_options_are_parsed_for_the_provider(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", LOG)
    params = {"timestamps": "true", "sinceTime": "2026-11-27T18:00:00Z", "previous": "1"}
    assert (await fetch(http, server, PATH, cert=pki.admin, params=params))[0] == 200
    options = provider.options[-1]
    assert options.timestamps and options.previous and not options.follow
    assert options.since_time == datetime.datetime(2026, 11, 27, 18, 0, tzinfo=datetime.UTC)
    params = {"sinceSeconds": "30"}
    assert (await fetch(http, server, PATH, cert=pki.admin, params=params))[0] == 200
    assert provider.options[-1].since_seconds == 30


async def test_bad_options_are_400(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", LOG)
    for params in (
        {"tailLines": "-1"},
        {"limitBytes": "0"},
        {"follow": "maybe"},
        {"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"},
    ):
        status, body = await fetch(http, server, PATH, cert=pki.admin, params=params)
        assert status == 400, params
        assert body
    assert provider.options == []


async def test_unknown_container_is_404(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki
) -> None:
    status, body = await fetch(http, server, "/containerLogs/default/web/nope", cert=pki.admin)
    assert status == 404
    assert body == 'container "nope" in pod "web" is not known'


async def test_empty_log_is_200_and_empty(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "")
    assert await fetch(http, server, PATH, cert=pki.admin) == (200, "")


async def test_follow_streams_new_lines_and_stops_when_the_client_leaves(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "first\n")
    async with http.get(
        server.url + PATH, params={"follow": "true"}, ssl=client_context(server, pki.admin)
    ) as response:
        assert response.status == 200
        assert await asyncio.wait_for(response.content.readline(), 5) == b"first\n"
        await provider.append("default", "web", "app", "second\n")
        assert await asyncio.wait_for(response.content.readline(), 5) == b"second\n"
        response.close()  # the user pressed Ctrl-C
    # The server notices and closes the provider's stream.
    await asyncio.wait_for(provider.stream_closed.wait(), 5)
    assert provider.closed_streams == 1


async def test_follow_of_a_quiet_log_answers_before_the_first_line(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "")
    async with http.get(
        server.url + PATH, params={"follow": "1"}, ssl=client_context(server, pki.admin)
    ) as response:
        assert response.status == 200
        await provider.append("default", "web", "app", "late\n")
        assert await asyncio.wait_for(response.content.readline(), 5) == b"late\n"


def test_parse_defaults() -> None:
    options = parse_log_options({})
    assert options == type(options)()
    try:
        parse_log_options({"sinceTime": "yesterday"})
    except BadQuery as error:
        assert "sinceTime" in str(error)
    else:
        raise AssertionError("a bad sinceTime was accepted")


async def test_stop_ends_open_follow_streams(
    server: KubeletApiServer, http: aiohttp.ClientSession, pki: Pki, provider: FileLogProvider
) -> None:
    await provider.append("default", "web", "app", "first\n")
    async with http.get(
        server.url + PATH, params={"follow": "true"}, ssl=client_context(server, pki.admin)
    ) as response:
        assert await asyncio.wait_for(response.content.readline(), 5) == b"first\n"
        await asyncio.wait_for(server.stop(), 10)
        await asyncio.wait_for(provider.stream_closed.wait(), 5)
