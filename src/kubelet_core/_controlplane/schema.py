"""Known fields of the served types, for pruning and ``fieldValidation``.

kube-apiserver decodes request bodies into Go structs, so a field it does not know
is never stored: with ``fieldValidation=Strict`` (what kubectl sends) the request fails
with 400 ``strict decoding error: unknown field "spec.contianers"``; with ``Warn`` (the
default) or ``Ignore`` the field is dropped, with a ``Warning`` header for Warn. A lenient
stand-in that stored anything would let typos and invented fields pass in tests and then
vanish on a real cluster, so the same happens here.

A schema is a dict of field name -> sub-schema, where ``FREE`` accepts anything below it,
``ListOf(schema)`` is a list of such objects and ``MapOf(schema)`` a string-keyed map.
Deep, rarely-typed structures (volumes, probes, affinity, security contexts) are FREE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelet_core._controlplane import resources as r

KubeObject = dict[str, Any]


class _Free:
    def __repr__(self) -> str:
        return "FREE"


FREE = _Free()


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


Schema = dict[str, Any]


def fields(*names: str, **nested: Any) -> Schema:
    schema: Schema = dict.fromkeys(names, FREE)
    schema.update(nested)
    return schema


OWNER_REF = fields("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
OBJECT_META = fields(
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "finalizers",
    "managedFields",
    ownerReferences=ListOf(OWNER_REF),
)
TYPE_META = ("apiVersion", "kind")

CONTAINER = fields(
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "envFrom",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
    ports=ListOf(fields("name", "hostPort", "containerPort", "protocol", "hostIP")),
    env=ListOf(fields("name", "value", "valueFrom")),
)
TOLERATION = fields("key", "operator", "value", "effect", "tolerationSeconds")
POD_SPEC = fields(
    "volumes",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
    "hostnameOverride",
    containers=ListOf(CONTAINER),
    initContainers=ListOf(CONTAINER),
    tolerations=ListOf(TOLERATION),
)
POD_CONDITION = fields(
    "type",
    "status",
    "lastProbeTime",
    "lastTransitionTime",
    "reason",
    "message",
    "observedGeneration",
)
POD_STATUS = fields(
    "phase",
    "message",
    "reason",
    "nominatedNodeName",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
    "ephemeralContainerStatuses",
    "qosClass",
    "resize",
    "resourceClaimStatuses",
    "observedGeneration",
    "extendedResourceClaimStatus",
    conditions=ListOf(POD_CONDITION),
)
NODE_SPEC = fields(
    "podCIDR",
    "podCIDRs",
    "providerID",
    "unschedulable",
    "configSource",
    "externalID",
    taints=ListOf(fields("key", "value", "effect", "timeAdded")),
)
NODE_STATUS = fields(
    "capacity",
    "allocatable",
    "phase",
    "daemonEndpoints",
    "nodeInfo",
    "images",
    "volumesInUse",
    "volumesAttached",
    "config",
    "runtimeHandlers",
    "features",
    "declaredFeatures",
    conditions=ListOf(
        fields("type", "status", "lastHeartbeatTime", "lastTransitionTime", "reason", "message")
    ),
    addresses=ListOf(fields("type", "address")),
)

SCHEMAS: dict[str, Schema] = {
    r.PODS.key: fields(*TYPE_META, metadata=OBJECT_META, spec=POD_SPEC, status=POD_STATUS),
    r.NODES.key: fields(*TYPE_META, metadata=OBJECT_META, spec=NODE_SPEC, status=NODE_STATUS),
    r.NAMESPACES.key: fields(
        *TYPE_META,
        metadata=OBJECT_META,
        spec=fields("finalizers"),
        status=fields("phase", "conditions"),
    ),
    r.LEASES.key: fields(
        *TYPE_META,
        metadata=OBJECT_META,
        spec=fields(
            "holderIdentity",
            "leaseDurationSeconds",
            "acquireTime",
            "renewTime",
            "leaseTransitions",
            "strategy",
            "preferredHolder",
        ),
    ),
    r.EVENTS.key: fields(
        *TYPE_META,
        "reason",
        "message",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
        metadata=OBJECT_META,
        involvedObject=fields(
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"
        ),
        source=fields("component", "host"),
    ),
    r.CONFIGMAPS.key: fields(*TYPE_META, "data", "binaryData", "immutable", metadata=OBJECT_META),
    r.SECRETS.key: fields(
        *TYPE_META, "data", "stringData", "type", "immutable", metadata=OBJECT_META
    ),
    r.SERVICEACCOUNTS.key: fields(
        *TYPE_META,
        "secrets",
        "imagePullSecrets",
        "automountServiceAccountToken",
        metadata=OBJECT_META,
    ),
}


def prune(rt: r.ResourceType, obj: KubeObject) -> list[str]:
    """Drop unknown fields from ``obj`` in place; return their paths (``spec.foo``)."""
    unknown: list[str] = []
    schema = SCHEMAS.get(rt.key)
    if schema is not None:
        _prune(obj, schema, "", unknown)
    return unknown


def _prune(value: Any, schema: Any, path: str, unknown: list[str]) -> None:
    if schema is FREE or value is None:
        return
    if isinstance(schema, ListOf):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _prune(item, schema.item, f"{path}[{index}]", unknown)
        return
    if isinstance(schema, MapOf):
        if isinstance(value, dict):
            for key, item in value.items():
                _prune(item, schema.value, f"{path}[{key}]", unknown)
        return
    if not isinstance(value, dict):
        return
    for key in list(value):
        sub = schema.get(key)
        where = f"{path}.{key}" if path else key
        if sub is None:
            if not key.startswith("$"):  # patch directives are not fields
                unknown.append(where)
                del value[key]
        else:
            _prune(value[key], sub, where, unknown)
