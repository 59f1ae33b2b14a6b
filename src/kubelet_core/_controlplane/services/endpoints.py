"""v1 Endpoints: the legacy one-object view of a Service's endpoints, as kube's controller.

kube-controller-manager still runs the endpoints controller next to the EndpointSlice
one; both read the same pods. Here the pod -> endpoint step is the EndpointSlice
controller's (``endpointslices.endpoint`` and ``endpoint_ports``, a wasm pod's address
being its node's IP and its port the one it really listens on), and this module only
reshapes it: a ready endpoint goes to ``addresses``, an unready one to
``notReadyAddresses``, a terminating one nowhere unless the Service publishes not-ready
addresses (kube's ``ShouldPodBeInEndpoints``). Subsets are repacked as kube's
``RepackSubsets`` does: addresses grouped by the exact set of ports they offer. The
Endpoints carries the Service's labels (plus ``service.kubernetes.io/headless`` for a
headless Service) and the ``endpoints.kubernetes.io/last-change-trigger-time``
annotation kube's TriggerTimeTracker computes; it is not owned by the Service: the
controller deletes it when the Service goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kubelet_core._apiclient.timefmt import parse_time
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import DeleteOptions, Registry
from kubelet_core._controlplane.resources import ENDPOINTS
from kubelet_core._controlplane.services.addresses import endpoint, endpoint_ports
from kubelet_core._controlplane.store import Store

KubeObject = dict[str, Any]
HEADLESS = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
_NO_PORT = ("", -1, "")  # RepackSubsets' sentinel for an address offered with no port


def _address(found: KubeObject) -> KubeObject:
    address: KubeObject = {"ip": found["addresses"][0]}
    if found.get("hostname"):
        address["hostname"] = found["hostname"]
    if found.get("nodeName"):
        address["nodeName"] = found["nodeName"]
    address["targetRef"] = dict(found["targetRef"])
    return address


def _v1_port(port: KubeObject) -> KubeObject:
    """An EndpointSlice port as a v1 EndpointPort (an empty name is omitted there)."""
    out: KubeObject = {}
    if port.get("name"):
        out["name"] = port["name"]
    out["port"] = port["port"]
    out["protocol"] = port.get("protocol", "TCP")
    if port.get("appProtocol"):
        out["appProtocol"] = port["appProtocol"]
    return out


def _port_key(port: KubeObject) -> tuple[str, int, str]:
    return (str(port.get("name") or ""), int(port["port"]), str(port.get("protocol") or ""))


def _address_key(address: KubeObject) -> tuple[str, str]:
    return address["ip"], str((address.get("targetRef") or {}).get("uid") or "")


def subsets(service: KubeObject, pods: Iterable[KubeObject]) -> list[KubeObject]:
    """The Endpoints' subsets for the Service's selected ``pods`` (kube's syncService)."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    # port -> {address key: (address, ready)}, as RepackSubsets' first pass
    by_port: dict[tuple[str, int, str], dict[tuple[str, str], tuple[KubeObject, bool]]] = {}
    ports_seen: dict[tuple[str, int, str], KubeObject] = {}
    for pod in pods:
        found = endpoint(service, pod)
        if found is None or (found["conditions"]["terminating"] and not publish):
            continue
        entry = (_address(found), bool(found["conditions"]["ready"]))
        if not spec.get("ports"):
            if headless:  # a headless Service may have no ports: addresses alone
                by_port.setdefault(_NO_PORT, {})[_address_key(entry[0])] = entry
            continue
        for port in endpoint_ports(service, pod):
            v1 = _v1_port(port)
            ports_seen[_port_key(v1)] = v1
            by_port.setdefault(_port_key(v1), {})[_address_key(entry[0])] = entry
    # Second pass: the ports each distinct set of (address, ready) offers.
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[str, int, str]]] = {}
    members: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[KubeObject, bool]]] = {}
    for port_key, addresses in sorted(by_port.items()):
        group = frozenset((key, ready) for key, (_a, ready) in addresses.items())
        groups.setdefault(group, []).append(port_key)
        members[group] = list(addresses.values())
    result = []
    for group, port_keys in groups.items():
        entries = sorted(members[group], key=lambda e: _address_key(e[0]))
        subset: KubeObject = {}
        ready = [a for a, is_ready in entries if is_ready]
        unready = [a for a, is_ready in entries if not is_ready]
        if ready:
            subset["addresses"] = ready
        if unready:
            subset["notReadyAddresses"] = unready
        ports = [ports_seen[k] for k in port_keys if k != _NO_PORT]
        if ports:
            subset["ports"] = ports
        result.append(subset)
    return sorted(result, key=_subset_order)


def _subset_order(subset: KubeObject) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{"ip": ""}])[0]
    return _address_key(first), [_port_key(p) for p in subset.get("ports") or []]


def labels_for(service: KubeObject) -> dict[str, str]:
    """The Service's labels, with the headless marker when it has no ClusterIP."""
    labels = dict(service["metadata"].get("labels") or {})
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    if not cluster_ip or cluster_ip == "None":
        labels[HEADLESS] = ""
    else:
        labels.pop(HEADLESS, None)
    return labels


def _seconds(stamp: Any) -> float | None:
    moment = parse_time(str(stamp)) if stamp else None
    return None if moment is None else moment.timestamp()


def _rfc3339_nano(seconds: float) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


class TriggerTimes:
    """kube's TriggerTimeTracker: when the change an Endpoints update reflects happened.

    Per Service it remembers the pods' Ready transition times and the Service's creation
    seen at the last sync; a sync reports the earliest of those that moved since (the
    Service's creation the first time it is seen), or nothing when none moved.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[float | None, dict[str, float]]] = {}

    def compute(self, service: KubeObject, pods: Iterable[KubeObject]) -> str | None:
        meta = service["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        known = self._seen.get(key)
        last_service, last_pods = known if known is not None else (None, {})
        changed: list[float] = []
        pod_times: dict[str, float] = {}
        for pod in pods:
            moment = _seconds(_ready_transition(pod))
            if moment is None:
                continue
            pod_times[pod["metadata"]["name"]] = moment
            if moment > last_pods.get(pod["metadata"]["name"], float("-inf")):
                changed.append(moment)
        created = _seconds(meta.get("creationTimestamp"))
        if created is not None and (last_service is None or created > last_service):
            changed.append(created)
        self._seen[key] = (created, pod_times)
        if known is None:
            return None if created is None else _rfc3339_nano(created)
        return _rfc3339_nano(min(changed)) if changed else None

    def forget(self, namespace: str, name: str) -> None:
        self._seen.pop((namespace, name), None)


def _ready_transition(pod: KubeObject) -> Any:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("lastTransitionTime")
    return None


def with_trigger_time(meta: KubeObject, trigger: str | None) -> KubeObject:
    """``meta`` with the trigger-time annotation set, or removed when there is none."""
    annotations = dict(meta.get("annotations") or {})
    if trigger is None:
        annotations.pop(TRIGGER_TIME, None)
    else:
        annotations[TRIGGER_TIME] = trigger
    out = dict(meta, annotations=annotations)
    if not annotations:
        out.pop("annotations")
    return out


class EndpointsWriter:
    """Keeps one Service's Endpoints equal to its pods (kube's endpoints controller sync)."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.trigger_times = TriggerTimes()

    async def sync(self, service: KubeObject, pods: list[KubeObject], trigger: str | None) -> None:
        """Create or update the Endpoints; unchanged subsets and labels write nothing."""
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        wanted = subsets(service, pods)
        entry = self.store.get(ENDPOINTS, namespace, name)
        current = None if entry is None else entry.obj
        if current is not None:
            have = dict(current["metadata"].get("labels") or {})
            have.pop(HEADLESS, None)
            same_labels = have == (meta.get("labels") or {})
            if (current.get("subsets") or []) == wanted and same_labels:
                return
        body_meta = dict((current or {}).get("metadata") or {"name": name})
        body_meta["labels"] = labels_for(service)
        body_meta = with_trigger_time(body_meta, trigger)
        body: KubeObject = {"metadata": body_meta}
        if wanted:
            body["subsets"] = wanted
        if current is None:
            await self.registry.create(ENDPOINTS, namespace, body)
        else:
            body = {k: v for k, v in current.items() if k != "subsets"} | body
            await self.registry.update(ENDPOINTS, namespace, name, body)

    async def forget(self, key: tuple[str, str]) -> None:
        """The Service is gone: so are its Endpoints (they have no owner reference)."""
        self.trigger_times.forget(*key)
        if self.store.get(ENDPOINTS, *key) is None:
            return
        try:
            await self.registry.delete(ENDPOINTS, key[0], key[1], DeleteOptions())
        except ApiError as exc:
            if exc.code != 404:
                raise
