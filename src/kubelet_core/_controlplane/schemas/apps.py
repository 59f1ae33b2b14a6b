"""apps/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import (
    BOOL,
    FREE,
    INT32,
    INT64,
    INT_OR_STRING,
    STRING,
    TIME,
    ListOf,
    fields,
)
from kubelet_core._controlplane.schemas import core_pod, meta

PKG = "io.k8s.api.apps.v1"

ROLLING_UPDATE_DEPLOYMENT = fields(
    go_name="RollingUpdateDeployment",
    package=PKG,
    maxUnavailable=INT_OR_STRING,
    maxSurge=INT_OR_STRING,
)
DEPLOYMENT_STRATEGY = fields(
    go_name="DeploymentStrategy", package=PKG, type=STRING, rollingUpdate=ROLLING_UPDATE_DEPLOYMENT
)
DEPLOYMENT_SPEC = fields(
    go_name="DeploymentSpec",
    package=PKG,
    replicas=INT32,
    selector=meta.LABEL_SELECTOR,
    template=core_pod.POD_TEMPLATE_SPEC,
    strategy=DEPLOYMENT_STRATEGY,
    minReadySeconds=INT32,
    revisionHistoryLimit=INT32,
    paused=BOOL,
    progressDeadlineSeconds=INT32,
)
DEPLOYMENT_CONDITION = fields(
    go_name="DeploymentCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastUpdateTime=TIME,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
DEPLOYMENT_STATUS = fields(
    go_name="DeploymentStatus",
    package=PKG,
    observedGeneration=INT64,
    replicas=INT32,
    updatedReplicas=INT32,
    readyReplicas=INT32,
    availableReplicas=INT32,
    unavailableReplicas=INT32,
    terminatingReplicas=INT32,
    conditions=ListOf(
        DEPLOYMENT_CONDITION,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    collisionCount=INT32,
)
DEPLOYMENT = fields(
    go_name="Deployment",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=DEPLOYMENT_SPEC,
    status=DEPLOYMENT_STATUS,
)
REPLICA_SET_SPEC = fields(
    go_name="ReplicaSetSpec",
    package=PKG,
    replicas=INT32,
    minReadySeconds=INT32,
    selector=meta.LABEL_SELECTOR,
    template=core_pod.POD_TEMPLATE_SPEC,
)
REPLICA_SET_CONDITION = fields(
    go_name="ReplicaSetCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
REPLICA_SET_STATUS = fields(
    go_name="ReplicaSetStatus",
    package=PKG,
    replicas=INT32,
    fullyLabeledReplicas=INT32,
    readyReplicas=INT32,
    availableReplicas=INT32,
    terminatingReplicas=INT32,
    observedGeneration=INT64,
    conditions=ListOf(
        REPLICA_SET_CONDITION,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)
REPLICA_SET = fields(
    go_name="ReplicaSet",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=REPLICA_SET_SPEC,
    status=REPLICA_SET_STATUS,
)
ROLLING_UPDATE_DAEMON_SET = fields(
    go_name="RollingUpdateDaemonSet",
    package=PKG,
    maxUnavailable=INT_OR_STRING,
    maxSurge=INT_OR_STRING,
)
DAEMON_SET_UPDATE_STRATEGY = fields(
    go_name="DaemonSetUpdateStrategy",
    package=PKG,
    type=STRING,
    rollingUpdate=ROLLING_UPDATE_DAEMON_SET,
)
DAEMON_SET_SPEC = fields(
    go_name="DaemonSetSpec",
    package=PKG,
    selector=meta.LABEL_SELECTOR,
    template=core_pod.POD_TEMPLATE_SPEC,
    updateStrategy=DAEMON_SET_UPDATE_STRATEGY,
    minReadySeconds=INT32,
    revisionHistoryLimit=INT32,
)
DAEMON_SET_CONDITION = fields(
    go_name="DaemonSetCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
DAEMON_SET_STATUS = fields(
    go_name="DaemonSetStatus",
    package=PKG,
    currentNumberScheduled=INT32,
    numberMisscheduled=INT32,
    desiredNumberScheduled=INT32,
    numberReady=INT32,
    observedGeneration=INT64,
    updatedNumberScheduled=INT32,
    numberAvailable=INT32,
    numberUnavailable=INT32,
    collisionCount=INT32,
    conditions=ListOf(
        DAEMON_SET_CONDITION,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)
DAEMON_SET = fields(
    go_name="DaemonSet",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=DAEMON_SET_SPEC,
    status=DAEMON_SET_STATUS,
)
CONTROLLER_REVISION = fields(
    go_name="ControllerRevision", package=PKG, metadata=meta.OBJECT_META, data=FREE, revision=INT64
)
