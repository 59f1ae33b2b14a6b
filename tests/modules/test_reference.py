"""Reference parsing and pull-secret reading: pure functions, no network."""

from __future__ import annotations

import base64
import json

import pytest

from kubelet_core._modules import (
    ImageReference,
    RegistryCredentials,
    credentials_from_pull_secrets,
)
from kubelet_core._provider.errors import ImagePullError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("hello", "docker.io/library/hello:latest"),
        ("user/hello:v1", "docker.io/user/hello:v1"),
        ("127.0.0.1:5000/hello:v1", "127.0.0.1:5000/hello:v1"),
        ("localhost/a/b", "localhost/a/b:latest"),
        ("reg.example/x@" + DIGEST, "reg.example/x@" + DIGEST),
        ("reg.example:443/x:t@" + DIGEST, "reg.example:443/x:t@" + DIGEST),
    ],
)
def test_parse_canonical(text: str, canonical: str) -> None:
    assert str(ImageReference.parse(text)) == canonical


@pytest.mark.parametrize(
    "text", ["", "Hello", "x@sha256:short", "http://reg/x", "reg.example/x:bad tag", " x"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ImagePullError) as info:
        ImageReference.parse(text)
    assert info.value.reason == "InvalidImageName"
    assert not info.value.retryable


def _secret(
    config: dict[str, object], kind: str = "kubernetes.io/dockerconfigjson"
) -> dict[str, object]:
    key = ".dockerconfigjson" if kind.endswith("json") else ".dockercfg"
    raw = base64.b64encode(json.dumps(config).encode()).decode()
    return {"kind": "Secret", "type": kind, "data": {key: raw}}


def test_credentials_auth_field_and_username_password() -> None:
    auth = base64.b64encode(b"alice:pw:with:colons").decode()
    secrets = [
        _secret({"auths": {"other.example": {"username": "x", "password": "y"}}}),
        _secret({"auths": {"https://reg.example:5000/v1/": {"auth": auth}}}),
    ]
    assert credentials_from_pull_secrets(secrets, "reg.example:5000") == RegistryCredentials(
        "alice", "pw:with:colons"
    )
    assert credentials_from_pull_secrets(secrets, "other.example") == RegistryCredentials("x", "y")
    assert credentials_from_pull_secrets(secrets, "nowhere.example") is None


def test_credentials_docker_hub_aliases_and_legacy_dockercfg() -> None:
    secret = _secret(
        {"https://index.docker.io/v1/": {"username": "bob", "password": "pw"}},
        kind="kubernetes.io/dockercfg",
    )
    assert credentials_from_pull_secrets([secret], "docker.io") == RegistryCredentials("bob", "pw")


def test_credentials_skip_malformed() -> None:
    broken = {"data": {".dockerconfigjson": "!!!"}}
    good = _secret({"auths": {"r.example": {"username": "u", "password": "p"}}})
    assert credentials_from_pull_secrets([broken, good], "r.example") == RegistryCredentials(
        "u", "p"
    )
    assert "p'" not in repr(RegistryCredentials("u", "p"))
