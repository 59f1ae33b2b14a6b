"""The log store builds no path from a name Kubernetes would not accept (finding 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelet_core._containers.logs import LogStore
from kubelet_core._provider.names import InvalidName


@pytest.mark.parametrize(
    ("meta", "container"),
    [
        ({"namespace": "default", "name": "../../x", "uid": "u"}, "main"),
        ({"namespace": "..", "name": "p", "uid": "u"}, "main"),
        ({"namespace": "default", "name": "p", "uid": "../u"}, "main"),
        ({"namespace": "default", "name": "p", "uid": "u"}, "../../../x"),
        ({"namespace": "default", "name": "p", "uid": "u"}, "a\0b"),
        ({"namespace": "default", "name": "", "uid": "u"}, "main"),
    ],
)
def test_the_log_store_builds_no_path_from_an_invalid_name(
    tmp_path: Path, meta: dict[str, str], container: str
) -> None:
    store = LogStore(tmp_path / "pods")
    pod = {"metadata": meta}
    with pytest.raises(InvalidName):
        store.allocate(pod, container, 0)
    with pytest.raises(InvalidName):
        store.next_restart(pod, container)
    store.remove_pod(pod)  # nothing that could exist: a no-op
    assert not tmp_path.joinpath("pods").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_find_pod_dir_checks_the_names(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "pods")
    (tmp_path / "pods" / "default_web_uid1").mkdir(parents=True)
    assert store.find_pod_dir("default", "web") == tmp_path / "pods" / "default_web_uid1"
    for namespace, name in (("..", "web"), ("default", "../pods/default_web"), ("default", "")):
        with pytest.raises(InvalidName):
            store.find_pod_dir(namespace, name)
