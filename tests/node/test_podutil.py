"""Kubelet's pure rules over pod JSON: QoS, derived conditions, status merge, validation."""

from __future__ import annotations

from kubelet_core._pods import merge_status
from kubelet_core._pods.podutil import (
    derived_conditions,
    grace_period,
    malformed_reason,
    qos_class,
    spec_fingerprint,
)


def pod(containers, **spec):
    return {
        "metadata": {"name": "p", "namespace": "d", "uid": "u"},
        "spec": {"containers": containers, **spec},
    }


def test_qos_classes():
    assert qos_class(pod([{"name": "a", "image": "i"}])) == "BestEffort"
    limits = {"cpu": "1", "memory": "64Mi"}
    assert (
        qos_class(pod([{"name": "a", "image": "i", "resources": {"limits": limits}}]))
        == "Guaranteed"
    )
    assert (
        qos_class(pod([{"name": "a", "image": "i", "resources": {"requests": {"cpu": "100m"}}}]))
        == "Burstable"
    )
    assert qos_class(pod([{"name": "a", "image": "i", "resources": "garbage"}])) == "BestEffort"


def test_derived_conditions_follow_container_readiness():
    spec = pod(
        [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
        initContainers=[{"name": "init", "image": "i"}],
    )
    status = {
        "phase": "Pending",
        "initContainerStatuses": [{"name": "init", "state": {"running": {}}}],
    }
    kinds = {c["type"]: c for c in derived_conditions(spec, status)}
    assert kinds["Initialized"]["status"] == "False"
    assert kinds["Initialized"]["reason"] == "ContainersNotInitialized"
    status = {
        "phase": "Running",
        "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
        "containerStatuses": [{"name": "a", "ready": True}, {"name": "b", "ready": False}],
    }
    kinds = {c["type"]: c for c in derived_conditions(spec, status)}
    assert kinds["Initialized"]["status"] == "True"
    assert kinds["ContainersReady"]["message"] == "containers with unready status: [b]"
    assert kinds["Ready"]["status"] == "False"


def test_merge_keeps_foreign_conditions_and_transition_times():
    current = pod([{"name": "a", "image": "i"}])
    current["status"] = {
        "phase": "Running",
        "startTime": "T0",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
            {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "T0"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "T1", "lastProbeTime": None},
        ],
    }
    provided = {"phase": "Running", "containerStatuses": [{"name": "a", "ready": True}]}
    merged = merge_status(current, provided, node_ip="10.0.0.1", now="T9")
    kinds = {c["type"]: c for c in merged["conditions"]}
    assert kinds["DisruptionTarget"]["status"] == "True"
    assert kinds["PodScheduled"]["lastTransitionTime"] == "T0"
    assert kinds["Ready"]["lastTransitionTime"] == "T1"  # unchanged status keeps its time
    assert kinds["ContainersReady"]["lastTransitionTime"] == "T9"
    assert merged["startTime"] == "T0"
    assert merged["hostIP"] == "10.0.0.1"
    # Merging the result again changes nothing: identical statuses are not rewritten.
    again = dict(current, status=merged)
    assert merge_status(again, provided, node_ip="10.0.0.1", now="T10") == merged
    # The provider's own Ready condition wins over the derived one.
    provided["conditions"] = [{"type": "Ready", "status": "False", "reason": "Probe"}]
    kinds = {
        c["type"]: c for c in merge_status(current, provided, node_ip="x", now="T9")["conditions"]
    }
    assert kinds["Ready"]["reason"] == "Probe" and kinds["Ready"]["lastTransitionTime"] == "T9"


def test_malformed_and_grace():
    assert malformed_reason(pod([{"name": "a", "image": "i"}])) is None
    assert malformed_reason({"metadata": {"name": "p"}}) == "metadata.uid is missing"
    assert "initContainers is not a list" in malformed_reason(
        pod([{"name": "a", "image": "i"}], initContainers={})
    )
    assert grace_period(pod([], terminationGracePeriodSeconds=7)) == 7.0
    deleting = pod([], terminationGracePeriodSeconds=7)
    deleting["metadata"]["deletionGracePeriodSeconds"] = 0
    assert grace_period(deleting) == 0.0
    assert grace_period({"spec": None}) == 30.0


def _init_pod(*init: dict[str, object]) -> dict[str, object]:
    return {"spec": {"initContainers": list(init), "containers": [{"name": "app"}]}}


def _terminated(name: str, code: int) -> dict[str, object]:
    return {"name": name, "state": {"terminated": {"exitCode": code}}}


def test_initialized_follows_kubelet_not_the_phase() -> None:
    """kubelet's rule: a pod whose init container failed is not initialized, even when
    the pod is Failed (kubectl shows Init:Error, not a terminal pod that initialized)."""
    from kubelet_core._pods.podutil import derived_conditions

    pod = _init_pod({"name": "a"}, {"name": "b"})

    def initialized(status: dict[str, object]) -> dict[str, object]:
        return next(c for c in derived_conditions(pod, status) if c["type"] == "Initialized")

    failed = {"phase": "Failed", "initContainerStatuses": [_terminated("a", 1)]}
    assert initialized(failed) == {
        "type": "Initialized",
        "status": "False",
        "reason": "ContainersNotInitialized",
        "message": "containers with incomplete status: [a]",
    }
    waiting = {"phase": "Pending", "initContainerStatuses": [_terminated("a", 0)]}
    assert initialized(waiting)["message"] == "containers with unknown status: [b]"
    done = {"phase": "Running", "initContainerStatuses": [_terminated("a", 0), _terminated("b", 0)]}
    assert initialized(done)["status"] == "True"
    sidecar = _init_pod({"name": "s", "restartPolicy": "Always"})
    status = {"phase": "Pending", "initContainerStatuses": [{"name": "s", "started": False}]}
    conditions = derived_conditions(sidecar, status)
    assert [c["status"] for c in conditions if c["type"] == "Initialized"] == ["False"]
    status = {"phase": "Pending", "initContainerStatuses": [{"name": "s", "started": True}]}
    conditions = derived_conditions(sidecar, status)
    assert [c["status"] for c in conditions if c["type"] == "Initialized"] == ["True"]


def test_copy_json_is_a_deep_copy_of_the_same_values() -> None:
    from kubelet_core._apiclient.objects import copy_json

    original = {"a": [1, {"b": None, "c": 1.5}], "t": (1, [2]), "s": "x", "ok": True}
    copied = copy_json(original)
    assert copied == original
    assert copied is not original and copied["a"] is not original["a"]
    assert copied["a"][1] is not original["a"][1]
    assert type(copied["t"]) is tuple and copied["t"][1] is not original["t"][1]  # deepcopied
    copied["a"][1]["b"] = "changed"
    assert original["a"][1]["b"] is None


def test_spec_fingerprint_follows_what_update_pod_cares_about() -> None:
    pod = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "a", "image": "i:1"}], "nodeName": "n"},
        "status": {"phase": "Pending"},
    }
    before = spec_fingerprint(pod)
    pod["status"]["phase"] = "Running"
    pod["metadata"]["resourceVersion"] = "7"
    assert spec_fingerprint(pod) == before  # status and versions are not the spec
    pod["metadata"]["labels"] = {"app": "x"}  # equal content, other order of building
    assert spec_fingerprint(pod) == before
    pod["spec"]["containers"][0]["image"] = "i:2"
    assert spec_fingerprint(pod) != before
    huge = {"spec": {"containers": [{"name": "a", "image": "i", "n": 1 << 70}]}}
    assert spec_fingerprint(huge) != spec_fingerprint({"spec": {}})
