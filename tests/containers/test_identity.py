"""Which user and groups a container runs as (securityContext as Kubernetes resolves it)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kubelet_core._containers.identity import ProcessIdentity, identity_for, volume_group

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="identities are a root agent's")


def pod(security: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", **container}]}
    if security is not None:
        spec["securityContext"] = security
    return {"spec": spec}


def main(p: dict[str, Any]) -> dict[str, Any]:
    return dict(p["spec"]["containers"][0])


def test_a_pod_that_names_no_user_runs_as_the_default_with_its_volume_group() -> None:
    p = pod()
    assert identity_for(p, main(p), NOBODY) == ProcessIdentity(NOBODY, NOBODY, (NOBODY,))
    assert volume_group(p, NOBODY) == NOBODY


def test_the_container_wins_over_the_pod() -> None:
    p = pod({"runAsUser": 1000, "runAsGroup": 3000}, securityContext={"runAsUser": 2000})
    assert identity_for(p, main(p), NOBODY) == ProcessIdentity(2000, 3000, ())
    assert volume_group(p, NOBODY) is None  # the pod chose its users: no implied group


def test_fs_group_and_supplemental_groups_are_supplementary() -> None:
    p = pod({"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [4000]})
    assert identity_for(p, main(p), NOBODY) == ProcessIdentity(1000, None, (4000, 2000))
    assert volume_group(p, NOBODY) == 2000


def test_root_is_honoured() -> None:
    p = pod({"runAsUser": 0})
    assert identity_for(p, main(p), NOBODY).uid == 0


def test_without_a_default_user_the_agent_s_own_user_is_kept() -> None:
    p = pod()
    assert identity_for(p, main(p), None) == ProcessIdentity()
    assert volume_group(p, None) is None
