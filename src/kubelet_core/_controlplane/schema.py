"""One schema per served type: decoding, pruning, and the OpenAPI documents.

kube-apiserver decodes request bodies into Go structs. A value of the wrong JSON type
(``metadata.name: 123``, ``containers: "notalist"``) or a quantity that does not parse
fails decoding with 400 BadRequest (``Pod in version "v1" cannot be handled as a Pod:
json: cannot unmarshal ...``), before any validation. A field it does not know is never
stored: with ``fieldValidation=Strict`` (what kubectl sends) the request fails with 400
``strict decoding error: unknown field "spec.contianers"``; with ``Warn`` (the default) or
``Ignore`` the field is dropped, with a ``Warning`` header for Warn. A lenient stand-in
that stored anything would let typos and wrong types pass in tests (and crash later
code that trusts the stored types), so the same happens here.

A schema is a ``Struct`` (``fields(...)``: field name -> sub-schema, with the Go type
name for error messages and OpenAPI definitions), ``ListOf(schema)``, ``MapOf(schema)``,
a scalar (``STRING``, ``INT64``, ``INT32``, ``BOOL``, ``QUANTITY``) or ``FREE``, which
accepts anything below it (deep, rarely-typed structures: volumes, probes, affinity).

Adding a served type: describe it once with ``register(rt, fields(...))`` at import time
of the module that defines the type (before the API server starts). Decoding, pruning,
``kubectl explain`` and kubectl's client-side validation (``openapi.py`` builds the v2 and
v3 documents from ``SCHEMAS``) then follow; a type without a schema is stored as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubelet_core._controlplane import resources as r
from kubelet_core._controlplane.errors import ApiError

KubeObject = dict[str, Any]


class _Free:
    def __repr__(self) -> str:
        return "FREE"


FREE = _Free()


@dataclass(frozen=True)
class Scalar:
    """A JSON scalar: its OpenAPI type/format and the Go type named in decode errors."""

    type: str
    format: str
    go: str


STRING = Scalar("string", "", "string")
INT64 = Scalar("integer", "int64", "int64")
INT32 = Scalar("integer", "int32", "int32")
BOOL = Scalar("boolean", "", "bool")
#: resource.Quantity: a string (or a number) matching kube's quantity grammar.
QUANTITY = Scalar("string", "quantity", "resource.Quantity")
#: metav1.Time: an RFC 3339 string.
TIME = Scalar("string", "date-time", "v1.Time")


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


class Struct(dict[str, Any]):
    """An object's fields; ``go_name``/``package`` name its Go type and OpenAPI definition."""

    go_name: str = ""
    package: str = ""


Schema = Struct
CORE = "io.k8s.api.core.v1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
SCHEMAS: dict[str, Schema] = {}


def fields(*names: str, go_name: str = "", package: str = CORE, **nested: Any) -> Struct:
    """A struct whose ``names`` are FREE and whose keyword fields have the given schemas."""
    schema = Struct(dict.fromkeys(names, FREE))
    schema.update(nested)
    schema.go_name = go_name
    schema.package = package
    return schema


def strings(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, STRING)


def register(rt: r.ResourceType, schema: Struct) -> None:
    """Serve ``rt`` with ``schema`` (top-level: apiVersion, kind and metadata are added)."""
    full = fields(go_name=schema.go_name or rt.kind, package=schema.package or CORE)
    full.update(strings(*TYPE_META))
    full["metadata"] = OBJECT_META
    full.update(schema)
    full.go_name = schema.go_name or rt.kind
    full.package = definition_package(rt)
    SCHEMAS[rt.key] = full


def definition_package(rt: r.ResourceType) -> str:
    """The OpenAPI definition prefix kube uses: ``io.k8s.api.<group>.<version>``."""
    group = rt.group.split(".", 1)[0] if rt.group else "core"
    return f"io.k8s.api.{group}.{rt.version}"


TYPE_META = ("apiVersion", "kind")
OWNER_REF = fields(
    go_name="OwnerReference",
    package=META,
    **strings("apiVersion", "kind", "name", "uid"),
    controller=BOOL,
    blockOwnerDeletion=BOOL,
)
OBJECT_META = fields(
    "managedFields",
    go_name="ObjectMeta",
    package=META,
    **strings("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"),
    generation=INT64,
    creationTimestamp=TIME,
    deletionTimestamp=TIME,
    deletionGracePeriodSeconds=INT64,
    labels=MapOf(STRING),
    annotations=MapOf(STRING),
    finalizers=ListOf(STRING),
    ownerReferences=ListOf(OWNER_REF),
)
RESOURCES = fields(
    "claims",
    go_name="ResourceRequirements",
    limits=MapOf(QUANTITY),
    requests=MapOf(QUANTITY),
)
CONTAINER = fields(
    "envFrom",
    "resizePolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "securityContext",
    go_name="Container",
    **strings(
        "name",
        "image",
        "workingDir",
        "restartPolicy",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
    ),
    command=ListOf(STRING),
    args=ListOf(STRING),
    resources=RESOURCES,
    stdin=BOOL,
    stdinOnce=BOOL,
    tty=BOOL,
    ports=ListOf(
        fields(
            go_name="ContainerPort",
            **strings("name", "protocol", "hostIP"),
            hostPort=INT32,
            containerPort=INT32,
        )
    ),
    env=ListOf(fields("valueFrom", go_name="EnvVar", **strings("name", "value"))),
)
TOLERATION = fields(
    go_name="Toleration",
    **strings("key", "operator", "value", "effect"),
    tolerationSeconds=INT64,
)
POD_SPEC = fields(
    "volumes",
    "ephemeralContainers",
    "securityContext",
    "imagePullSecrets",
    "affinity",
    "hostAliases",
    "dnsConfig",
    "readinessGates",
    "topologySpreadConstraints",
    "os",
    "schedulingGates",
    "resourceClaims",
    "resources",
    go_name="PodSpec",
    **strings(
        "restartPolicy",
        "dnsPolicy",
        "serviceAccountName",
        "serviceAccount",
        "nodeName",
        "hostname",
        "subdomain",
        "schedulerName",
        "priorityClassName",
        "runtimeClassName",
        "preemptionPolicy",
        "hostnameOverride",
    ),
    terminationGracePeriodSeconds=INT64,
    activeDeadlineSeconds=INT64,
    nodeSelector=MapOf(STRING),
    automountServiceAccountToken=BOOL,
    hostNetwork=BOOL,
    hostPID=BOOL,
    hostIPC=BOOL,
    shareProcessNamespace=BOOL,
    enableServiceLinks=BOOL,
    setHostnameAsFQDN=BOOL,
    hostUsers=BOOL,
    priority=INT32,
    overhead=MapOf(QUANTITY),
    containers=ListOf(CONTAINER),
    initContainers=ListOf(CONTAINER),
    tolerations=ListOf(TOLERATION),
)
POD_CONDITION = fields(
    go_name="PodCondition",
    **strings("type", "status", "reason", "message"),
    lastProbeTime=TIME,
    lastTransitionTime=TIME,
    observedGeneration=INT64,
)
CONTAINER_STATUS = fields(
    "state",
    "lastState",
    "resources",
    "allocatedResources",
    "volumeMounts",
    "user",
    "allocatedResourcesStatus",
    "stopSignal",
    go_name="ContainerStatus",
    **strings("name", "image", "imageID", "containerID"),
    ready=BOOL,
    started=BOOL,
    restartCount=INT32,
)
POD_STATUS = fields(
    "hostIPs",
    "podIPs",
    "ephemeralContainerStatuses",
    "resize",
    "resourceClaimStatuses",
    "extendedResourceClaimStatus",
    go_name="PodStatus",
    **strings("phase", "message", "reason", "nominatedNodeName", "hostIP", "podIP", "qosClass"),
    startTime=TIME,
    observedGeneration=INT64,
    initContainerStatuses=ListOf(CONTAINER_STATUS),
    containerStatuses=ListOf(CONTAINER_STATUS),
    conditions=ListOf(POD_CONDITION),
)
NODE_SPEC = fields(
    "configSource",
    go_name="NodeSpec",
    **strings("podCIDR", "providerID", "externalID"),
    podCIDRs=ListOf(STRING),
    unschedulable=BOOL,
    taints=ListOf(fields(go_name="Taint", **strings("key", "value", "effect"), timeAdded=TIME)),
)
NODE_STATUS = fields(
    "daemonEndpoints",
    "nodeInfo",
    "images",
    "volumesInUse",
    "volumesAttached",
    "config",
    "runtimeHandlers",
    "features",
    "declaredFeatures",
    go_name="NodeStatus",
    phase=STRING,
    capacity=MapOf(QUANTITY),
    allocatable=MapOf(QUANTITY),
    conditions=ListOf(
        fields(
            go_name="NodeCondition",
            **strings("type", "status", "reason", "message"),
            lastHeartbeatTime=TIME,
            lastTransitionTime=TIME,
        )
    ),
    addresses=ListOf(fields(go_name="NodeAddress", **strings("type", "address"))),
)
OBJECT_REFERENCE = fields(
    go_name="ObjectReference",
    **strings("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"),
)
EVENT_SERIES = fields(go_name="EventSeries", count=INT32, lastObservedTime=TIME)

register(r.PODS, fields(go_name="Pod", spec=POD_SPEC, status=POD_STATUS))
register(r.NODES, fields(go_name="Node", spec=NODE_SPEC, status=NODE_STATUS))
register(
    r.NAMESPACES,
    fields(
        go_name="Namespace",
        spec=fields(go_name="NamespaceSpec", finalizers=ListOf(STRING)),
        status=fields("conditions", go_name="NamespaceStatus", phase=STRING),
    ),
)
register(
    r.LEASES,
    fields(
        go_name="Lease",
        spec=fields(
            go_name="LeaseSpec",
            package="io.k8s.api.coordination.v1",
            **strings("holderIdentity", "strategy", "preferredHolder"),
            leaseDurationSeconds=INT32,
            acquireTime=TIME,
            renewTime=TIME,
            leaseTransitions=INT32,
        ),
    ),
)
register(
    r.EVENTS,
    fields(
        "related",
        go_name="Event",
        **strings("reason", "message", "type", "action", "reportingComponent", "reportingInstance"),
        firstTimestamp=TIME,
        lastTimestamp=TIME,
        eventTime=TIME,
        count=INT32,
        series=EVENT_SERIES,
        involvedObject=OBJECT_REFERENCE,
        source=fields(go_name="EventSource", **strings("component", "host")),
    ),
)
register(
    r.CONFIGMAPS,
    fields(
        go_name="ConfigMap",
        data=MapOf(STRING),
        binaryData=MapOf(STRING),
        immutable=BOOL,
    ),
)
register(
    r.SECRETS,
    fields(
        go_name="Secret",
        data=MapOf(STRING),
        stringData=MapOf(STRING),
        type=STRING,
        immutable=BOOL,
    ),
)
register(
    r.SERVICEACCOUNTS,
    fields(
        "secrets",
        "imagePullSecrets",
        go_name="ServiceAccount",
        automountServiceAccountToken=BOOL,
    ),
)
register(
    r.EVENTS_V1,
    fields(
        "related",
        go_name="Event",
        package="io.k8s.api.events.v1",
        **strings("reason", "note", "type", "action", "reportingController", "reportingInstance"),
        eventTime=TIME,
        deprecatedFirstTimestamp=TIME,
        deprecatedLastTimestamp=TIME,
        deprecatedCount=INT32,
        series=fields(
            go_name="EventSeries",
            package="io.k8s.api.events.v1",
            count=INT32,
            lastObservedTime=TIME,
        ),
        regarding=OBJECT_REFERENCE,
        deprecatedSource=fields(go_name="EventSource", **strings("component", "host")),
    ),
)
register(
    r.RUNTIME_CLASSES,
    fields(
        "overhead",
        "scheduling",
        go_name="RuntimeClass",
        package="io.k8s.api.node.v1",
        handler=STRING,
    ),
)
# Certificates validate their own spec and status (certificates.py); typed loosely here.
register(
    r.CERTIFICATESIGNINGREQUESTS, fields("spec", "status", go_name="CertificateSigningRequest")
)


# -- decoding ------------------------------------------------------------------------------
# kube's resource.Quantity grammar (ErrFormatWrong) and the suffixes it knows (ErrSuffix).
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIXES = frozenset(
    {"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
)
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
QUANTITY_FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class DecodeError(Exception):
    """The body does not decode into the Go type (kube: 400 BadRequest)."""


def quantity_error(value: str) -> str | None:
    """kube's ParseQuantity error for ``value``, or None if it parses."""
    match = _QUANTITY.match(value)
    if match is None or match.group(1).count(".") > 1:
        return QUANTITY_FORMAT
    suffix = match.group(2)
    if suffix not in _SUFFIXES and not _EXPONENT.match(suffix):
        return "unable to parse quantity's suffix"
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def go_type(schema: Any) -> str:
    if isinstance(schema, Scalar):
        return schema.go
    if isinstance(schema, ListOf):
        return "[]" + go_type(schema.item)
    if isinstance(schema, MapOf):
        return "map[string]" + go_type(schema.value)
    if isinstance(schema, Struct):
        return f"v1.{schema.go_name}" if schema.go_name else "struct"
    return "interface {}"


def _mismatch(value: Any, schema: Any, owner: str, gopath: str) -> DecodeError:
    shown = _json_type(value)
    if shown == "number" and isinstance(schema, Scalar) and schema.type == "integer":
        shown = f"number {value}"
    return DecodeError(
        f"json: cannot unmarshal {shown} into Go struct field {owner}.{gopath} "
        f"of type {go_type(schema)}"
    )


def _scalar_ok(value: Any, schema: Scalar) -> bool:
    if schema.type == "string":
        return isinstance(value, str)
    if schema.type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)


def _walk(value: Any, schema: Any, path: str, gopath: str, owner: str, unknown: list[str]) -> None:
    """Check ``value``'s types against ``schema`` and prune unknown fields, in place."""
    if schema is FREE or value is None:  # Go decodes null as the zero value
        return
    if schema is QUANTITY:
        if isinstance(value, str):
            error = quantity_error(value)
            if error is not None:
                raise DecodeError(error)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise _mismatch(value, schema, owner, gopath)
        return
    if isinstance(schema, Scalar):
        if not _scalar_ok(value, schema):
            raise _mismatch(value, schema, owner, gopath)
        return
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            raise _mismatch(value, schema, owner, gopath)
        for index, item in enumerate(value):
            _walk(item, schema.item, f"{path}[{index}]", gopath, owner, unknown)
        return
    if isinstance(schema, MapOf):
        if not isinstance(value, dict):
            raise _mismatch(value, schema, owner, gopath)
        for key, item in value.items():
            _walk(item, schema.value, f"{path}[{key}]", gopath, owner, unknown)
        return
    if not isinstance(value, dict):
        raise _mismatch(value, schema, owner, gopath)
    inner = schema.go_name or (gopath.rsplit(".", 1)[-1].capitalize() if gopath else owner)
    for key in list(value):
        sub = schema.get(key)
        where = f"{path}.{key}" if path else key
        if sub is None:
            if not key.startswith("$"):  # patch directives are not fields
                unknown.append(where)
                del value[key]
        else:
            _walk(value[key], sub, where, f"{gopath}.{key}" if gopath else key, inner, unknown)


def decode(rt: r.ResourceType, obj: Any) -> list[str]:
    """Check ``obj`` against ``rt``'s schema and drop unknown fields; return their paths.

    Raises ApiError 400 when a value does not decode into its Go type.
    """
    schema = SCHEMAS.get(rt.key)
    if schema is None or not isinstance(obj, dict):
        return []
    unknown: list[str] = []
    try:
        _walk(obj, schema, "", "", schema.go_name or rt.kind, unknown)
    except DecodeError as exc:
        raise ApiError(
            400,
            "BadRequest",
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {exc}',
        ) from exc
    return unknown


def prune(rt: r.ResourceType, obj: KubeObject) -> list[str]:
    """Drop unknown fields from ``obj`` in place; return their paths (``spec.foo``)."""
    return decode(rt, obj)
