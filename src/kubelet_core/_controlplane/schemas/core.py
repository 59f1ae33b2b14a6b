"""core/v1 types other than the pod's: Namespace, Node, Service, Endpoints, quotas, ...

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import (
    BOOL,
    BYTES,
    INT32,
    INT64,
    INT_OR_STRING,
    MICRO_TIME,
    QUANTITY,
    STRING,
    TIME,
    ListOf,
    MapOf,
    fields,
)
from kubelet_core._controlplane.schemas import core_pod, meta

PKG = "io.k8s.api.core.v1"

NAMESPACE_SPEC = fields(
    go_name="NamespaceSpec", package=PKG, finalizers=ListOf(STRING, list_type="atomic")
)
NAMESPACE_CONDITION = fields(
    go_name="NamespaceCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
NAMESPACE_STATUS = fields(
    go_name="NamespaceStatus",
    package=PKG,
    phase=STRING,
    conditions=ListOf(
        NAMESPACE_CONDITION, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
)
NAMESPACE = fields(
    go_name="Namespace",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=NAMESPACE_SPEC,
    status=NAMESPACE_STATUS,
)
TAINT = fields(
    go_name="Taint", package=PKG, key=STRING, value=STRING, effect=STRING, timeAdded=TIME
)
CONFIG_MAP_NODE_CONFIG_SOURCE = fields(
    go_name="ConfigMapNodeConfigSource",
    package=PKG,
    namespace=STRING,
    name=STRING,
    uid=STRING,
    resourceVersion=STRING,
    kubeletConfigKey=STRING,
)
NODE_CONFIG_SOURCE = fields(
    go_name="NodeConfigSource", package=PKG, configMap=CONFIG_MAP_NODE_CONFIG_SOURCE
)
NODE_SPEC = fields(
    go_name="NodeSpec",
    package=PKG,
    podCIDR=STRING,
    podCIDRs=ListOf(STRING, list_type="set", strategy="merge"),
    providerID=STRING,
    unschedulable=BOOL,
    taints=ListOf(TAINT, list_type="atomic"),
    configSource=NODE_CONFIG_SOURCE,
    externalID=STRING,
)
NODE_CONDITION = fields(
    go_name="NodeCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastHeartbeatTime=TIME,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
NODE_ADDRESS = fields(go_name="NodeAddress", package=PKG, type=STRING, address=STRING)
DAEMON_ENDPOINT = fields(go_name="DaemonEndpoint", package=PKG, Port=INT32)
NODE_DAEMON_ENDPOINTS = fields(
    go_name="NodeDaemonEndpoints", package=PKG, kubeletEndpoint=DAEMON_ENDPOINT
)
NODE_SWAP_STATUS = fields(go_name="NodeSwapStatus", package=PKG, capacity=INT64)
NODE_SYSTEM_INFO = fields(
    go_name="NodeSystemInfo",
    package=PKG,
    machineID=STRING,
    systemUUID=STRING,
    bootID=STRING,
    kernelVersion=STRING,
    osImage=STRING,
    containerRuntimeVersion=STRING,
    kubeletVersion=STRING,
    kubeProxyVersion=STRING,
    operatingSystem=STRING,
    architecture=STRING,
    swap=NODE_SWAP_STATUS,
)
CONTAINER_IMAGE = fields(
    go_name="ContainerImage", package=PKG, names=ListOf(STRING, list_type="atomic"), sizeBytes=INT64
)
ATTACHED_VOLUME = fields(go_name="AttachedVolume", package=PKG, name=STRING, devicePath=STRING)
NODE_CONFIG_STATUS = fields(
    go_name="NodeConfigStatus",
    package=PKG,
    assigned=NODE_CONFIG_SOURCE,
    active=NODE_CONFIG_SOURCE,
    lastKnownGood=NODE_CONFIG_SOURCE,
    error=STRING,
)
NODE_RUNTIME_HANDLER_FEATURES = fields(
    go_name="NodeRuntimeHandlerFeatures",
    package=PKG,
    recursiveReadOnlyMounts=BOOL,
    userNamespaces=BOOL,
)
NODE_RUNTIME_HANDLER = fields(
    go_name="NodeRuntimeHandler", package=PKG, name=STRING, features=NODE_RUNTIME_HANDLER_FEATURES
)
NODE_FEATURES = fields(go_name="NodeFeatures", package=PKG, supplementalGroupsPolicy=BOOL)
NODE_STATUS = fields(
    go_name="NodeStatus",
    package=PKG,
    capacity=MapOf(QUANTITY),
    allocatable=MapOf(QUANTITY),
    phase=STRING,
    conditions=ListOf(
        NODE_CONDITION, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
    addresses=ListOf(
        NODE_ADDRESS, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
    daemonEndpoints=NODE_DAEMON_ENDPOINTS,
    nodeInfo=NODE_SYSTEM_INFO,
    images=ListOf(CONTAINER_IMAGE, list_type="atomic"),
    volumesInUse=ListOf(STRING, list_type="atomic"),
    volumesAttached=ListOf(ATTACHED_VOLUME, list_type="atomic"),
    config=NODE_CONFIG_STATUS,
    runtimeHandlers=ListOf(NODE_RUNTIME_HANDLER, list_type="atomic"),
    features=NODE_FEATURES,
    declaredFeatures=ListOf(STRING, list_type="atomic"),
)
NODE = fields(
    go_name="Node", package=PKG, metadata=meta.OBJECT_META, spec=NODE_SPEC, status=NODE_STATUS
)
OBJECT_REFERENCE = fields(
    go_name="ObjectReference",
    package=PKG,
    kind=STRING,
    namespace=STRING,
    name=STRING,
    uid=STRING,
    apiVersion=STRING,
    resourceVersion=STRING,
    fieldPath=STRING,
)
EVENT_SOURCE = fields(go_name="EventSource", package=PKG, component=STRING, host=STRING)
EVENT_SERIES = fields(go_name="EventSeries", package=PKG, count=INT32, lastObservedTime=MICRO_TIME)
EVENT = fields(
    go_name="Event",
    package=PKG,
    metadata=meta.OBJECT_META,
    involvedObject=OBJECT_REFERENCE,
    reason=STRING,
    message=STRING,
    source=EVENT_SOURCE,
    firstTimestamp=TIME,
    lastTimestamp=TIME,
    count=INT32,
    type=STRING,
    eventTime=MICRO_TIME,
    series=EVENT_SERIES,
    action=STRING,
    related=OBJECT_REFERENCE,
    reportingComponent=STRING,
    reportingInstance=STRING,
)
CONFIG_MAP = fields(
    go_name="ConfigMap",
    package=PKG,
    metadata=meta.OBJECT_META,
    immutable=BOOL,
    data=MapOf(STRING),
    binaryData=MapOf(BYTES),
)
SECRET = fields(
    go_name="Secret",
    package=PKG,
    metadata=meta.OBJECT_META,
    immutable=BOOL,
    data=MapOf(BYTES),
    stringData=MapOf(STRING),
    type=STRING,
)
SERVICE_ACCOUNT = fields(
    go_name="ServiceAccount",
    package=PKG,
    metadata=meta.OBJECT_META,
    secrets=ListOf(
        OBJECT_REFERENCE, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    imagePullSecrets=ListOf(core_pod.LOCAL_OBJECT_REFERENCE, list_type="atomic"),
    automountServiceAccountToken=BOOL,
)
LIMIT_RANGE_ITEM = fields(
    go_name="LimitRangeItem",
    package=PKG,
    type=STRING,
    max=MapOf(QUANTITY),
    min=MapOf(QUANTITY),
    default=MapOf(QUANTITY),
    defaultRequest=MapOf(QUANTITY),
    maxLimitRequestRatio=MapOf(QUANTITY),
)
LIMIT_RANGE_SPEC = fields(
    go_name="LimitRangeSpec", package=PKG, limits=ListOf(LIMIT_RANGE_ITEM, list_type="atomic")
)
LIMIT_RANGE = fields(
    go_name="LimitRange", package=PKG, metadata=meta.OBJECT_META, spec=LIMIT_RANGE_SPEC
)
SCOPED_RESOURCE_SELECTOR_REQUIREMENT = fields(
    go_name="ScopedResourceSelectorRequirement",
    package=PKG,
    scopeName=STRING,
    operator=STRING,
    values=ListOf(STRING, list_type="atomic"),
)
SCOPE_SELECTOR = fields(
    go_name="ScopeSelector",
    package=PKG,
    matchExpressions=ListOf(SCOPED_RESOURCE_SELECTOR_REQUIREMENT, list_type="atomic"),
)
RESOURCE_QUOTA_SPEC = fields(
    go_name="ResourceQuotaSpec",
    package=PKG,
    hard=MapOf(QUANTITY),
    scopes=ListOf(STRING, list_type="atomic"),
    scopeSelector=SCOPE_SELECTOR,
)
RESOURCE_QUOTA_STATUS = fields(
    go_name="ResourceQuotaStatus", package=PKG, hard=MapOf(QUANTITY), used=MapOf(QUANTITY)
)
RESOURCE_QUOTA = fields(
    go_name="ResourceQuota",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=RESOURCE_QUOTA_SPEC,
    status=RESOURCE_QUOTA_STATUS,
)
SERVICE_PORT = fields(
    go_name="ServicePort",
    package=PKG,
    name=STRING,
    protocol=STRING,
    appProtocol=STRING,
    port=INT32,
    targetPort=INT_OR_STRING,
    nodePort=INT32,
)
CLIENT_IP_CONFIG = fields(go_name="ClientIPConfig", package=PKG, timeoutSeconds=INT32)
SESSION_AFFINITY_CONFIG = fields(
    go_name="SessionAffinityConfig", package=PKG, clientIP=CLIENT_IP_CONFIG
)
SERVICE_SPEC = fields(
    go_name="ServiceSpec",
    package=PKG,
    ports=ListOf(
        SERVICE_PORT,
        list_type="map",
        map_keys=("port", "protocol"),
        merge_key="port",
        strategy="merge",
    ),
    selector=MapOf(STRING),
    clusterIP=STRING,
    clusterIPs=ListOf(STRING, list_type="atomic"),
    type=STRING,
    externalIPs=ListOf(STRING, list_type="atomic"),
    sessionAffinity=STRING,
    loadBalancerIP=STRING,
    loadBalancerSourceRanges=ListOf(STRING, list_type="atomic"),
    externalName=STRING,
    externalTrafficPolicy=STRING,
    healthCheckNodePort=INT32,
    publishNotReadyAddresses=BOOL,
    sessionAffinityConfig=SESSION_AFFINITY_CONFIG,
    ipFamilies=ListOf(STRING, list_type="atomic"),
    ipFamilyPolicy=STRING,
    allocateLoadBalancerNodePorts=BOOL,
    loadBalancerClass=STRING,
    internalTrafficPolicy=STRING,
    trafficDistribution=STRING,
)
PORT_STATUS = fields(go_name="PortStatus", package=PKG, port=INT32, protocol=STRING, error=STRING)
LOAD_BALANCER_INGRESS = fields(
    go_name="LoadBalancerIngress",
    package=PKG,
    ip=STRING,
    hostname=STRING,
    ipMode=STRING,
    ports=ListOf(PORT_STATUS, list_type="atomic"),
)
LOAD_BALANCER_STATUS = fields(
    go_name="LoadBalancerStatus",
    package=PKG,
    ingress=ListOf(LOAD_BALANCER_INGRESS, list_type="atomic"),
)
SERVICE_STATUS = fields(
    go_name="ServiceStatus",
    package=PKG,
    loadBalancer=LOAD_BALANCER_STATUS,
    conditions=ListOf(
        meta.CONDITION, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
)
SERVICE = fields(
    go_name="Service",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=SERVICE_SPEC,
    status=SERVICE_STATUS,
)
ENDPOINT_ADDRESS = fields(
    go_name="EndpointAddress",
    package=PKG,
    ip=STRING,
    hostname=STRING,
    nodeName=STRING,
    targetRef=OBJECT_REFERENCE,
)
ENDPOINT_PORT = fields(
    go_name="EndpointPort",
    package=PKG,
    name=STRING,
    port=INT32,
    protocol=STRING,
    appProtocol=STRING,
)
ENDPOINT_SUBSET = fields(
    go_name="EndpointSubset",
    package=PKG,
    addresses=ListOf(ENDPOINT_ADDRESS, list_type="atomic"),
    notReadyAddresses=ListOf(ENDPOINT_ADDRESS, list_type="atomic"),
    ports=ListOf(ENDPOINT_PORT, list_type="atomic"),
)
ENDPOINTS = fields(
    go_name="Endpoints",
    package=PKG,
    metadata=meta.OBJECT_META,
    subsets=ListOf(ENDPOINT_SUBSET, list_type="atomic"),
)
