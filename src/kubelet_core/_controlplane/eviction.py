"""The ``pods/eviction`` subresource (``policy/v1`` Eviction), honouring disruption budgets.

``kubectl drain`` and the node agent's drain evict rather than delete, so a
PodDisruptionBudget can say no.  As kube-apiserver's eviction REST does:

* a pod that is terminal, Pending or already being deleted is deleted
  without asking any budget;
* a pod selected by more than one budget cannot be evicted (500);
* a budget the disruption controller has not caught up with (its
  ``observedGeneration``) or that allows no disruption answers 429
  TooManyRequests, "Cannot evict pod as it would violate the pod's disruption
  budget.", with a ``DisruptionBudget`` cause; clients retry;
* otherwise the budget's ``disruptionsAllowed`` is decremented and the pod
  recorded in ``disruptedPods`` (an optimistic status write: two evictions
  cannot spend one disruption), except for an unready pod when the budget is
  healthy anyway or its ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``;
* the pod gets the ``DisruptionTarget`` condition (``EvictionByEvictionAPI``)
  and is deleted with the Eviction's ``deleteOptions``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kubelet_core._controlplane import errors
from kubelet_core._controlplane.disruption import budgets_for, pod_ready
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.resources import PODDISRUPTIONBUDGETS as PDBS
from kubelet_core._controlplane.resources import PODS

if TYPE_CHECKING:  # the registry imports nothing of this module; the Api calls it
    from kubelet_core._controlplane.registry import Registry

KubeObject = dict[str, Any]
TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
_CONFLICT_RETRIES = 5


def _too_many(cause: str, retry_after: int) -> ApiError:
    details: dict[str, Any] = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return ApiError(429, "TooManyRequests", TOO_MANY, details)


def _ignores_budgets(pod: KubeObject) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


async def evict(registry: Registry, namespace: str, name: str, body: Any) -> None:
    """Evict one pod, or raise the ApiError kube-apiserver would answer."""
    from kubelet_core._controlplane.registry import DeleteOptions

    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request is not a JSON object")
    asked = (body.get("metadata") or {}).get("name")
    if asked and asked != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = DeleteOptions(body.get("deleteOptions") or {}, {})
    for _attempt in range(_CONFLICT_RETRIES):
        pod = registry.get(PODS, namespace, name).obj
        if _ignores_budgets(pod):
            break
        budgets = budgets_for(registry.store, pod)
        if len(budgets) > 1:
            raise ApiError(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support.",
            )
        if not budgets:
            break
        try:
            await _spend(registry, budgets[0], pod)
            break
        except ApiError as exc:
            if exc.code != 409:
                raise
    else:
        raise errors.conflict("pods", "", name, "the budget kept changing; try again")
    await _delete(registry, namespace, name, options)


async def _spend(registry: Registry, pdb: KubeObject, pod: KubeObject) -> None:
    status = dict(pdb.get("status") or {})
    spec = pdb.get("spec") or {}
    pdb_name = pdb["metadata"]["name"]
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 1):
        raise _too_many(
            f"The disruption budget {pdb_name} is still being processed by the server.", 10
        )
    healthy = int(status.get("currentHealthy") or 0)
    desired = int(status.get("desiredHealthy") or 0)
    if not pod_ready(pod) and (
        spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
        or (healthy >= desired and desired > 0)
    ):
        return  # an unready pod costs the budget nothing
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise ApiError(403, "Forbidden", "pdb disruptions allowed is negative")
    if allowed == 0:
        raise _too_many(
            f"The disruption budget {pdb_name} needs {desired} healthy pods and has "
            f"{healthy} currently",
            0,
        )
    status["disruptionsAllowed"] = allowed - 1
    disrupted = dict(status.get("disruptedPods") or {})
    disrupted[pod["metadata"]["name"]] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status["disruptedPods"] = disrupted
    await registry.update(
        PDBS, pdb["metadata"]["namespace"], pdb_name, dict(pdb, status=status), subresource="status"
    )


async def _delete(registry: Registry, namespace: str, name: str, options: Any) -> None:
    pod = registry.get(PODS, namespace, name).obj
    if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not pod[
        "metadata"
    ].get("deletionTimestamp"):
        await mark_disruption_target(
            registry, pod, "EvictionByEvictionAPI", "Eviction API: evicting"
        )
    await registry.delete(PODS, namespace, name, options)


async def mark_disruption_target(
    registry: Registry, pod: KubeObject, reason: str, message: str, *, phase: str | None = None
) -> None:
    """Set ``DisruptionTarget=True`` on a pod about to be deleted (kube ≥ 1.26), once."""
    status = dict(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    status["conditions"] = conditions
    if phase is not None:
        status["phase"] = phase
    meta = pod["metadata"]
    try:
        await registry.update(
            PODS, meta["namespace"], meta["name"], dict(pod, status=status), subresource="status"
        )
    except ApiError as exc:
        if exc.code != 409:
            raise
