"""The resource types this control plane serves, described once.

Discovery documents, URL routing, field-selector support, status-subresource rules and
the OpenAPI stubs are all derived from these descriptors, so adding a resource type is a
matter of adding one entry here (plus validation/table columns if it needs them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
BASE_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Status is a subresource: main updates keep status, status updates keep spec.
    split_status: bool = False
    # metadata.generation is bumped when spec changes.
    tracks_generation: bool = False
    field_labels: frozenset[str] = field(default=BASE_FIELDS)
    categories: tuple[str, ...] = ()
    # Names are path segments (RBAC: ``system:node``), not DNS subdomains.
    path_segment_names: bool = False
    # kube-apiserver's Warning on every request for a deprecated type ("" when not).
    deprecation: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key prefix, e.g. ``pods`` or ``leases.coordination.k8s.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


POD_FIELDS = BASE_FIELDS | {
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
}
EVENT_FIELDS = BASE_FIELDS | {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
}

NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "namespace",
    "Namespace",
    False,
    ("ns",),
    ("status", "finalize"),
    split_status=True,
    field_labels=BASE_FIELDS | {"status.phase"},
)
NODES = ResourceType(
    "",
    "v1",
    "nodes",
    "node",
    "Node",
    False,
    ("no",),
    ("status",),
    split_status=True,
    field_labels=BASE_FIELDS | {"spec.unschedulable"},
)
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "pod",
    "Pod",
    True,
    ("po",),
    ("status", "binding", "log", "eviction", "exec", "attach", "portforward"),
    split_status=True,
    tracks_generation=True,
    field_labels=POD_FIELDS,
    categories=("all",),
)
EVENTS = ResourceType(
    "", "v1", "events", "event", "Event", True, ("ev",), field_labels=EVENT_FIELDS
)
CONFIGMAPS = ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",))
SECRETS = ResourceType(
    "", "v1", "secrets", "secret", "Secret", True, field_labels=BASE_FIELDS | {"type"}
)
SERVICEACCOUNTS = ResourceType(
    "", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",), ("token",)
)
LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True)
CERTIFICATESIGNINGREQUESTS = ResourceType(
    "certificates.k8s.io",
    "v1",
    "certificatesigningrequests",
    "certificatesigningrequest",
    "CertificateSigningRequest",
    False,
    ("csr",),
    ("approval", "status"),
    split_status=True,
    field_labels=BASE_FIELDS | {"spec.signerName"},
)

# The same objects as EVENTS, converted (events_v1.py); nothing is stored under this key.
EVENTS_V1 = ResourceType(
    "events.k8s.io",
    "v1",
    "events",
    "event",
    "Event",
    True,
    field_labels=BASE_FIELDS
    | {
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "type",
    },
)

RUNTIME_CLASSES = ResourceType(
    "node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", False
)
LIMIT_RANGES = ResourceType("", "v1", "limitranges", "limitrange", "LimitRange", True, ("limits",))
RESOURCE_QUOTAS = ResourceType(
    "",
    "v1",
    "resourcequotas",
    "resourcequota",
    "ResourceQuota",
    True,
    ("quota",),
    ("status",),
    split_status=True,
)
PODDISRUPTIONBUDGETS = ResourceType(
    "policy",
    "v1",
    "poddisruptionbudgets",
    "poddisruptionbudget",
    "PodDisruptionBudget",
    True,
    ("pdb",),
    ("status",),
    split_status=True,
    tracks_generation=True,
)

RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(RBAC, "v1", "roles", "role", "Role", True, path_segment_names=True)
CLUSTERROLES = ResourceType(
    RBAC, "v1", "clusterroles", "clusterrole", "ClusterRole", False, path_segment_names=True
)
ROLEBINDINGS = ResourceType(
    RBAC, "v1", "rolebindings", "rolebinding", "RoleBinding", True, path_segment_names=True
)
CLUSTERROLEBINDINGS = ResourceType(
    RBAC,
    "v1",
    "clusterrolebindings",
    "clusterrolebinding",
    "ClusterRoleBinding",
    False,
    path_segment_names=True,
)
RBAC_TYPES = (ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS)

# Services as data (services/): ClusterIPs allocated but not routed, EndpointSlices real.
SERVICES = ResourceType(
    "",
    "v1",
    "services",
    "service",
    "Service",
    True,
    ("svc",),
    ("status",),
    split_status=True,
    categories=("all",),
)
ENDPOINTSLICES = ResourceType(
    "discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True
)
# The legacy view of a Service's endpoints, deprecated since 1.33 but still served.
ENDPOINTS = ResourceType(
    "",
    "v1",
    "endpoints",
    "endpoints",
    "Endpoints",
    True,
    ("ep",),
    deprecation="v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
)
NETWORK_TYPES = (SERVICES, ENDPOINTSLICES, ENDPOINTS)


# Workloads (apps/v1, batch/v1): their controllers live in workloads/.
def _workload(
    group: str, plural: str, kind: str, short: tuple[str, ...], subresources: tuple[str, ...]
) -> ResourceType:
    return ResourceType(
        group,
        "v1",
        plural,
        plural[:-1],
        kind,
        True,
        short,
        subresources,
        split_status=True,
        tracks_generation=True,
        categories=("all",),
    )


DEPLOYMENTS = _workload("apps", "deployments", "Deployment", ("deploy",), ("status", "scale"))
REPLICASETS = _workload("apps", "replicasets", "ReplicaSet", ("rs",), ("status", "scale"))
DAEMONSETS = _workload("apps", "daemonsets", "DaemonSet", ("ds",), ("status",))
CONTROLLERREVISIONS = ResourceType(
    "apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True
)
JOBS = _workload("batch", "jobs", "Job", (), ("status",))
CRONJOBS = _workload("batch", "cronjobs", "CronJob", ("cj",), ("status",))

ALL: tuple[ResourceType, ...] = (
    NAMESPACES,
    NODES,
    PODS,
    EVENTS,
    CONFIGMAPS,
    SECRETS,
    SERVICEACCOUNTS,
    LEASES,
    CERTIFICATESIGNINGREQUESTS,
    RUNTIME_CLASSES,
    LIMIT_RANGES,
    RESOURCE_QUOTAS,
    PODDISRUPTIONBUDGETS,
    *RBAC_TYPES,
    DEPLOYMENTS,
    REPLICASETS,
    DAEMONSETS,
    CONTROLLERREVISIONS,
    JOBS,
    CRONJOBS,
    EVENTS_V1,
    *NETWORK_TYPES,
)
BY_KEY: dict[str, ResourceType] = {rt.key: rt for rt in ALL}
BY_GROUP_VERSION: dict[tuple[str, str], dict[str, ResourceType]] = {}
for _rt in ALL:
    BY_GROUP_VERSION.setdefault((_rt.group, _rt.version), {})[_rt.plural] = _rt


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return BY_GROUP_VERSION.get((group, version), {}).get(plural)
