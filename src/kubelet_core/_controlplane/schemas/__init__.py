"""The field tables of every served type, one module per API group, registered here.

Each module holds one ``fields(...)`` table per Go struct of its package, named as the
Go type (``DeploymentSpec`` -> ``DEPLOYMENT_SPEC``) and laid out as kube's
``generated.proto``/``types.go`` declare it at the served version (k8s.io/api v0.36.3,
k8s.io/apimachinery v0.36.3): every JSON field (inlined embeddings such as
``Volume``'s ``VolumeSource`` or ``Probe``'s ``ProbeHandler`` flattened), its Go type
(pointers and typed strings as their JSON types; ``resource.Quantity``,
``intstr.IntOrString``, ``metav1.Time`` as the named scalars of ``schema``) and its list
markers (``+listType``, ``+listMapKey``, ``+patchMergeKey``, ``+patchStrategy``).

Completeness matters more than anything here: kubectl sends ``fieldValidation=Strict``,
so a real field missing from a table turns a valid manifest into a 400. When the served
version moves, regenerate the tables from the new sources rather than editing by hand.
Only what kube itself leaves open stays ``FREE``: ``runtime.RawExtension``
(ControllerRevision.data) and ``metav1.FieldsV1`` (managedFields[].fieldsV1).

``api`` (decoding) and ``openapi`` import this package, so every type is registered before
the API server starts.
"""

from __future__ import annotations

from kubelet_core._controlplane import resources as r
from kubelet_core._controlplane.schema import register
from kubelet_core._controlplane.schemas import (
    apps,
    batch,
    certificates,
    coordination,
    core,
    core_pod,
    discovery,
    events,
    node,
    policy,
    rbac,
)

for _rt, _table in (
    (r.NAMESPACES, core.NAMESPACE),
    (r.NODES, core.NODE),
    (r.PODS, core_pod.POD),
    (r.EVENTS, core.EVENT),
    (r.CONFIGMAPS, core.CONFIG_MAP),
    (r.SECRETS, core.SECRET),
    (r.SERVICEACCOUNTS, core.SERVICE_ACCOUNT),
    (r.LIMIT_RANGES, core.LIMIT_RANGE),
    (r.RESOURCE_QUOTAS, core.RESOURCE_QUOTA),
    (r.SERVICES, core.SERVICE),
    (r.ENDPOINTS, core.ENDPOINTS),
    (r.LEASES, coordination.LEASE),
    (r.CERTIFICATESIGNINGREQUESTS, certificates.CERTIFICATE_SIGNING_REQUEST),
    (r.RUNTIME_CLASSES, node.RUNTIME_CLASS),
    (r.PODDISRUPTIONBUDGETS, policy.POD_DISRUPTION_BUDGET),
    (r.ROLES, rbac.ROLE),
    (r.CLUSTERROLES, rbac.CLUSTER_ROLE),
    (r.ROLEBINDINGS, rbac.ROLE_BINDING),
    (r.CLUSTERROLEBINDINGS, rbac.CLUSTER_ROLE_BINDING),
    (r.DEPLOYMENTS, apps.DEPLOYMENT),
    (r.REPLICASETS, apps.REPLICA_SET),
    (r.DAEMONSETS, apps.DAEMON_SET),
    (r.CONTROLLERREVISIONS, apps.CONTROLLER_REVISION),
    (r.JOBS, batch.JOB),
    (r.CRONJOBS, batch.CRON_JOB),
    (r.EVENTS_V1, events.EVENT),
    (r.ENDPOINTSLICES, discovery.ENDPOINT_SLICE),
):
    register(_rt, _table)
