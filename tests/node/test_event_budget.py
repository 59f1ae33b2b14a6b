"""Events spend their own rate-limit budget (kubelet's --event-qps), not the status writes'."""

from __future__ import annotations

from kubelet_core._apiclient import KubeApi


async def test_event_face_has_its_own_budget_and_shares_the_connection(api: KubeApi) -> None:
    events = api.with_rate_limit(5, 1)
    assert events.limiter is not api.limiter
    await events.request("GET", "/api/v1/namespaces/default/events")
    # One request used the face's burst of 1; the client's own budget is untouched.
    assert api.limiter.burst == 100 and events.limiter.burst == 1
    assert events._get_session() is api._get_session()
    await events.close()  # closing a face leaves the shared session open
    listing = await api.request("GET", "/api/v1/namespaces")
    assert any(ns["metadata"]["name"] == "default" for ns in listing["items"])
