"""Bodies that do not decode into the Go types answer 400, as kube-apiserver's decoder does.

Wrong JSON types, quantities that do not parse and oversized bodies never reach storage
(so nothing stored can make a later request fail with 500); annotations over 256 KiB in
total are a 422 validation error.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.controlplane.conftest import Client, pod

PODS = "/api/v1/namespaces/default/pods"
PREFIX = 'Pod in version "v1" cannot be handled as a Pod: '


def _with(path: str, value: Any) -> dict[str, Any]:
    body = pod("typed")
    target = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "metadata.name",
            123,
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name "
            "of type string",
        ),
        (
            "spec.containers",
            "notalist",
            "json: cannot unmarshal string into Go struct field PodSpec.spec.containers "
            "of type []v1.Container",
        ),
        (
            "spec.terminationGracePeriodSeconds",
            "thirty",
            "json: cannot unmarshal string into Go struct field "
            "PodSpec.spec.terminationGracePeriodSeconds of type int64",
        ),
        (
            "spec.containers.0.resources",
            {"limits": {"memory": "lots"}},
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        (
            "metadata.labels",
            {"app": 1},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels "
            "of type string",
        ),
        (
            "spec.containers.0.ports",
            [{"containerPort": 80.5}],
            "json: cannot unmarshal number 80.5 into Go struct field "
            "ContainerPort.spec.containers.ports.containerPort of type int32",
        ),
    ],
)
async def test_values_that_do_not_decode_are_bad_requests(
    client: Client, path: str, value: Any, message: str
) -> None:
    status, body = await client.post(PODS, _with(path, value))
    assert (status, body["reason"], body["message"]) == (400, "BadRequest", PREFIX + message)
    assert (await client.get(f"{PODS}/typed"))[0] == 404


async def test_wrong_types_in_updates_and_patches_are_bad_requests(client: Client) -> None:
    created = await client.ok("POST", PODS, pod("typed"))
    created["spec"]["terminationGracePeriodSeconds"] = "thirty"
    status, body = await client.put(f"{PODS}/typed", created)
    assert (status, body["reason"]) == (400, "BadRequest")
    status, body = await client.patch(
        f"{PODS}/typed",
        {"spec": {"activeDeadlineSeconds": "soon"}},
        "application/strategic-merge-patch+json",
    )
    assert (status, body["reason"]) == (400, "BadRequest")
    # Nothing bad was stored, so a plain delete works.
    await client.ok("DELETE", f"{PODS}/typed")


async def test_valid_quantities_are_accepted(client: Client) -> None:
    resources = {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": 0.25}}
    await client.ok("POST", PODS, _with("spec.containers.0.resources", resources))


async def test_a_body_over_3_mib_is_request_entity_too_large(client: Client) -> None:
    body = pod("big")
    body["metadata"]["annotations"] = {"blob": "x" * (3 * 1024 * 1024)}
    status, error = await client.post(PODS, body)
    assert (status, error["reason"], error["message"]) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )


async def test_annotations_over_256_kib_are_invalid(client: Client) -> None:
    body = pod("annotated")
    body["metadata"]["annotations"] = {"blob": "x" * (256 * 1024)}
    status, error = await client.post(PODS, body)
    assert (status, error["reason"]) == (422, "Invalid")
    assert error["message"] == (
        'Pod "annotated" is invalid: metadata.annotations: Too long: must have at most 262144 bytes'
    )
    assert error["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: must have at most 262144 bytes",
            "field": "metadata.annotations",
        }
    ]
    body["metadata"]["annotations"] = {"blob": "x" * (256 * 1024 - 4)}  # key + value fit
    await client.ok("POST", PODS, body)
