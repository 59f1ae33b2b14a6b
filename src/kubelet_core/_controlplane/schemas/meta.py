"""apimachinery's meta/v1 types every object uses (ObjectMeta, LabelSelector, Condition).

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import BOOL, FREE, INT64, STRING, TIME, ListOf, MapOf, fields

PKG = "io.k8s.apimachinery.pkg.apis.meta.v1"

OWNER_REFERENCE = fields(
    go_name="OwnerReference",
    package=PKG,
    apiVersion=STRING,
    kind=STRING,
    name=STRING,
    uid=STRING,
    controller=BOOL,
    blockOwnerDeletion=BOOL,
)
MANAGED_FIELDS_ENTRY = fields(
    go_name="ManagedFieldsEntry",
    package=PKG,
    manager=STRING,
    operation=STRING,
    apiVersion=STRING,
    time=TIME,
    fieldsType=STRING,
    fieldsV1=FREE,
    subresource=STRING,
)
OBJECT_META = fields(
    go_name="ObjectMeta",
    package=PKG,
    name=STRING,
    generateName=STRING,
    namespace=STRING,
    selfLink=STRING,
    uid=STRING,
    resourceVersion=STRING,
    generation=INT64,
    creationTimestamp=TIME,
    deletionTimestamp=TIME,
    deletionGracePeriodSeconds=INT64,
    labels=MapOf(STRING),
    annotations=MapOf(STRING),
    ownerReferences=ListOf(
        OWNER_REFERENCE, list_type="map", map_keys=("uid",), merge_key="uid", strategy="merge"
    ),
    finalizers=ListOf(STRING, list_type="set", strategy="merge"),
    managedFields=ListOf(MANAGED_FIELDS_ENTRY, list_type="atomic"),
)
LABEL_SELECTOR_REQUIREMENT = fields(
    go_name="LabelSelectorRequirement",
    package=PKG,
    key=STRING,
    operator=STRING,
    values=ListOf(STRING, list_type="atomic"),
)
LABEL_SELECTOR = fields(
    go_name="LabelSelector",
    package=PKG,
    matchLabels=MapOf(STRING),
    matchExpressions=ListOf(LABEL_SELECTOR_REQUIREMENT, list_type="atomic"),
)
CONDITION = fields(
    go_name="Condition",
    package=PKG,
    type=STRING,
    status=STRING,
    observedGeneration=INT64,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
