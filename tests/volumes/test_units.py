"""The pieces on their own: the ``..data`` writer, quantities, downward formatting, tokens."""

from __future__ import annotations

import os
import stat
from fractions import Fraction
from pathlib import Path

import pytest

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.tokenrequest import (
    InvalidToken,
    TokenSigner,
    issue,
    verify_token,
)
from kubelet_core._quantity import parse_quantity
from kubelet_core._volumes.atomic import DATA, FileContent, PayloadError, write_payload
from kubelet_core._volumes.downward import DownwardError, field_value, format_map, resource_value
from kubelet_core._volumes.hostpath import HostPathError, prepare_host_path
from kubelet_core._volumes.tokens import Token
from kubelet_core._volumes.usage import disk_usage


def visible(target: Path) -> dict[str, str]:
    """What a reader sees: the user-visible names, symlinks followed, ``..*`` hidden."""
    seen: dict[str, str] = {}
    for root, dirs, files in os.walk(target, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith("..")]
        for name in files:
            if not name.startswith(".."):
                full = Path(root) / name
                seen[full.relative_to(target).as_posix()] = full.read_text()
    return seen


def test_write_payload_swaps_versions_atomically(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_payload(target, {"a": FileContent(b"1"), "dir/b": FileContent(b"2", 0o600)})
    first = os.readlink(target / DATA)
    assert os.readlink(target / "a") == f"{DATA}/a"
    assert os.readlink(target / "dir") == f"{DATA}/dir"
    assert stat.S_IMODE((target / "dir" / "b").stat().st_mode) == 0o600
    assert visible(target) == {"a": "1", "dir/b": "2"}
    # Same content: nothing is touched.
    assert not write_payload(target, {"a": FileContent(b"1"), "dir/b": FileContent(b"2", 0o600)})
    assert os.readlink(target / DATA) == first
    # A mode change alone is a change.
    assert write_payload(target, {"a": FileContent(b"1", 0o400), "dir/b": FileContent(b"2", 0o600)})
    # Keys that go away disappear; old versions are removed.
    assert write_payload(target, {"c": FileContent(b"3")})
    assert sorted(os.listdir(target)) == sorted([DATA, "c", os.readlink(target / DATA)])
    assert (target / "c").read_text() == "3"
    assert not (target / "a").exists()


@pytest.mark.parametrize("path", ["../x", "/abs", "..hidden", "a/../../b", ""])
def test_write_payload_refuses_escaping_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        write_payload(tmp_path / "vol", {path: FileContent(b"x")})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("64Mi", 64 << 20),
        ("1e3", 1000),
        ("1.5Gi", 3 << 29),
        ("2", 2),
        ("100k", 100_000),
        (".5", Fraction(1, 2)),
    ],
)
def test_quantities(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


def test_bad_quantity() -> None:
    with pytest.raises(ValueError):
        parse_quantity("12XB")


def test_downward_values_follow_kubelet() -> None:
    pod = {
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "u",
            "labels": {"b": "2", "a": 'quote"d'},
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "resources": {"limits": {"cpu": "250m"}, "requests": {"memory": "1Gi"}},
                }
            ]
        },
    }
    assert format_map({"b": "2", "a": 'quote"d'}) == 'a="quote\\"d"\nb="2"'
    assert (
        field_value(pod, "metadata.labels", node_name="n", node_ip="1.2.3.4", volume=True)
        == 'a="quote\\"d"\nb="2"'
    )
    assert field_value(pod, "status.podIP", node_name="n", node_ip="1.2.3.4") == "1.2.3.4"
    assert field_value(pod, "spec.nodeName", node_name="n", node_ip="1.2.3.4") == "n"
    with pytest.raises(DownwardError):  # whole maps are for volumes only
        field_value(pod, "metadata.labels", node_name="n", node_ip="x")
    allocatable = {"cpu": "4", "memory": "8Gi"}

    def res(resource: str, divisor: str = "1") -> str:
        ref = {"resource": resource, "divisor": divisor}
        return resource_value(pod, ref, container_name="c", allocatable=allocatable)

    assert res("limits.cpu") == "1"  # ceil(0.25)
    assert res("limits.cpu", "1m") == "250"
    assert res("limits.memory", "1Mi") == str(8 * 1024)  # unset limit: node allocatable
    assert res("requests.memory", "1Gi") == "1"
    assert res("requests.cpu") == "0"
    with pytest.raises(DownwardError):
        res("limits.gpu")


def test_host_path_types(tmp_path: Path) -> None:
    allow = [str(tmp_path)]
    made = prepare_host_path({"path": str(tmp_path / "d"), "type": "DirectoryOrCreate"}, allow)
    assert made.is_dir()
    created = prepare_host_path({"path": str(tmp_path / "f"), "type": "FileOrCreate"}, allow)
    assert created.is_file()
    with pytest.raises(HostPathError, match="is not a directory"):
        prepare_host_path({"path": str(created), "type": "Directory"}, allow)
    with pytest.raises(HostPathError, match="not allowed"):
        prepare_host_path({"path": str(tmp_path)}, [str(tmp_path / "d")])
    link = tmp_path / "d" / "escape"
    link.symlink_to("/etc")
    with pytest.raises(HostPathError, match="not allowed"):  # symlinks are resolved first
        prepare_host_path({"path": str(link)}, [str(tmp_path / "d")])


def test_disk_usage_counts_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5000)
    os.link(tmp_path / "a", tmp_path / "hard")  # counted once
    assert 15_000 <= disk_usage(tmp_path) < 40_000


def test_token_refresh_point() -> None:
    token = Token("t", issued_at=1000.0, expires_at=1000.0 + 3600)
    assert token.refresh_at() == 1000.0 + 2880
    long = Token("t", issued_at=0.0, expires_at=10 * 86400.0)
    assert long.refresh_at() == 86400.0  # never older than 24 h


def _objects() -> dict[tuple[str, str, str], dict[str, object]]:
    return {
        ("serviceaccounts", "ns", "sa"): {"metadata": {"name": "sa", "uid": "sa-uid"}},
        ("pods", "ns", "p"): {"metadata": {"name": "p", "uid": "p-uid"}, "spec": {}},
    }


def test_token_request_validation(tmp_path: Path) -> None:
    signer = TokenSigner.load_or_create(tmp_path)
    objects = _objects()

    def get(plural: str, namespace: str, name: str) -> dict[str, object] | None:
        return objects.get((plural, namespace, name))

    answer = issue(signer, get, "ns", "sa", {"spec": {}}, clock=lambda: 1000.0)
    assert answer["status"]["expirationTimestamp"] == "1970-01-01T01:16:40Z"  # 1000 + 3600 s
    claims = verify_token(answer["status"]["token"], signer.key.public_key(), now=2000.0)
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "sa", "uid": "sa-uid"}
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(answer["status"]["token"], signer.key.public_key(), now=5000.0)
    with pytest.raises(InvalidToken, match="audience"):
        verify_token(answer["status"]["token"], signer.key.public_key(), audience="x", now=2000.0)
    other = TokenSigner.load_or_create(tmp_path / "other")
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(answer["status"]["token"], other.key.public_key(), now=2000.0)

    def code(namespace: str, name: str, body: object) -> int:
        with pytest.raises(ApiError) as caught:
            issue(signer, get, namespace, name, body)
        return caught.value.code

    assert code("ns", "nobody", {"spec": {}}) == 404
    assert code("ns", "sa", {"spec": {"expirationSeconds": 60}}) == 422
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "other"}
    assert code("ns", "sa", {"spec": {"boundObjectRef": ref}}) == 409
    assert code("ns", "sa", {"spec": {"boundObjectRef": {**ref, "name": "gone"}}}) == 404
    assert code("ns", "sa", {"kind": "Pod"}) == 400
    # The key is kept: a restarted control plane signs with the same one.
    again = TokenSigner.load_or_create(tmp_path)
    assert again.kid == signer.kid
    assert stat.S_IMODE((tmp_path / "sa.key").stat().st_mode) == 0o600
    jwk = signer.jwks()["keys"][0]
    assert (jwk["kid"], jwk["alg"], jwk["kty"]) == (signer.kid, "RS256", "RSA")
