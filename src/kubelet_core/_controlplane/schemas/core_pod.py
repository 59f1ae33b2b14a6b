"""core/v1: the Pod and everything its spec and status reach (containers, probes, volumes...).

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.schema import (
    BOOL,
    INT32,
    INT64,
    INT_OR_STRING,
    QUANTITY,
    STRING,
    TIME,
    ListOf,
    MapOf,
    fields,
)
from kubelet_core._controlplane.schemas import meta

PKG = "io.k8s.api.core.v1"

HOST_PATH_VOLUME_SOURCE = fields(
    go_name="HostPathVolumeSource", package=PKG, path=STRING, type=STRING
)
EMPTY_DIR_VOLUME_SOURCE = fields(
    go_name="EmptyDirVolumeSource", package=PKG, medium=STRING, sizeLimit=QUANTITY
)
GCE_PERSISTENT_DISK_VOLUME_SOURCE = fields(
    go_name="GCEPersistentDiskVolumeSource",
    package=PKG,
    pdName=STRING,
    fsType=STRING,
    partition=INT32,
    readOnly=BOOL,
)
AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE = fields(
    go_name="AWSElasticBlockStoreVolumeSource",
    package=PKG,
    volumeID=STRING,
    fsType=STRING,
    partition=INT32,
    readOnly=BOOL,
)
GIT_REPO_VOLUME_SOURCE = fields(
    go_name="GitRepoVolumeSource", package=PKG, repository=STRING, revision=STRING, directory=STRING
)
KEY_TO_PATH = fields(go_name="KeyToPath", package=PKG, key=STRING, path=STRING, mode=INT32)
SECRET_VOLUME_SOURCE = fields(
    go_name="SecretVolumeSource",
    package=PKG,
    secretName=STRING,
    items=ListOf(KEY_TO_PATH, list_type="atomic"),
    defaultMode=INT32,
    optional=BOOL,
)
NFS_VOLUME_SOURCE = fields(
    go_name="NFSVolumeSource", package=PKG, server=STRING, path=STRING, readOnly=BOOL
)
LOCAL_OBJECT_REFERENCE = fields(go_name="LocalObjectReference", package=PKG, name=STRING)
ISCSI_VOLUME_SOURCE = fields(
    go_name="ISCSIVolumeSource",
    package=PKG,
    targetPortal=STRING,
    iqn=STRING,
    lun=INT32,
    iscsiInterface=STRING,
    fsType=STRING,
    readOnly=BOOL,
    portals=ListOf(STRING, list_type="atomic"),
    chapAuthDiscovery=BOOL,
    chapAuthSession=BOOL,
    secretRef=LOCAL_OBJECT_REFERENCE,
    initiatorName=STRING,
)
GLUSTERFS_VOLUME_SOURCE = fields(
    go_name="GlusterfsVolumeSource", package=PKG, endpoints=STRING, path=STRING, readOnly=BOOL
)
PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE = fields(
    go_name="PersistentVolumeClaimVolumeSource", package=PKG, claimName=STRING, readOnly=BOOL
)
RBD_VOLUME_SOURCE = fields(
    go_name="RBDVolumeSource",
    package=PKG,
    monitors=ListOf(STRING, list_type="atomic"),
    image=STRING,
    fsType=STRING,
    pool=STRING,
    user=STRING,
    keyring=STRING,
    secretRef=LOCAL_OBJECT_REFERENCE,
    readOnly=BOOL,
)
FLEX_VOLUME_SOURCE = fields(
    go_name="FlexVolumeSource",
    package=PKG,
    driver=STRING,
    fsType=STRING,
    secretRef=LOCAL_OBJECT_REFERENCE,
    readOnly=BOOL,
    options=MapOf(STRING),
)
CINDER_VOLUME_SOURCE = fields(
    go_name="CinderVolumeSource",
    package=PKG,
    volumeID=STRING,
    fsType=STRING,
    readOnly=BOOL,
    secretRef=LOCAL_OBJECT_REFERENCE,
)
CEPH_FS_VOLUME_SOURCE = fields(
    go_name="CephFSVolumeSource",
    package=PKG,
    monitors=ListOf(STRING, list_type="atomic"),
    path=STRING,
    user=STRING,
    secretFile=STRING,
    secretRef=LOCAL_OBJECT_REFERENCE,
    readOnly=BOOL,
)
FLOCKER_VOLUME_SOURCE = fields(
    go_name="FlockerVolumeSource", package=PKG, datasetName=STRING, datasetUUID=STRING
)
OBJECT_FIELD_SELECTOR = fields(
    go_name="ObjectFieldSelector", package=PKG, apiVersion=STRING, fieldPath=STRING
)
RESOURCE_FIELD_SELECTOR = fields(
    go_name="ResourceFieldSelector",
    package=PKG,
    containerName=STRING,
    resource=STRING,
    divisor=QUANTITY,
)
DOWNWARD_API_VOLUME_FILE = fields(
    go_name="DownwardAPIVolumeFile",
    package=PKG,
    path=STRING,
    fieldRef=OBJECT_FIELD_SELECTOR,
    resourceFieldRef=RESOURCE_FIELD_SELECTOR,
    mode=INT32,
)
DOWNWARD_API_VOLUME_SOURCE = fields(
    go_name="DownwardAPIVolumeSource",
    package=PKG,
    items=ListOf(DOWNWARD_API_VOLUME_FILE, list_type="atomic"),
    defaultMode=INT32,
)
FC_VOLUME_SOURCE = fields(
    go_name="FCVolumeSource",
    package=PKG,
    targetWWNs=ListOf(STRING, list_type="atomic"),
    lun=INT32,
    fsType=STRING,
    readOnly=BOOL,
    wwids=ListOf(STRING, list_type="atomic"),
)
AZURE_FILE_VOLUME_SOURCE = fields(
    go_name="AzureFileVolumeSource", package=PKG, secretName=STRING, shareName=STRING, readOnly=BOOL
)
CONFIG_MAP_VOLUME_SOURCE = fields(
    go_name="ConfigMapVolumeSource",
    package=PKG,
    **LOCAL_OBJECT_REFERENCE,
    items=ListOf(KEY_TO_PATH, list_type="atomic"),
    defaultMode=INT32,
    optional=BOOL,
)
VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE = fields(
    go_name="VsphereVirtualDiskVolumeSource",
    package=PKG,
    volumePath=STRING,
    fsType=STRING,
    storagePolicyName=STRING,
    storagePolicyID=STRING,
)
QUOBYTE_VOLUME_SOURCE = fields(
    go_name="QuobyteVolumeSource",
    package=PKG,
    registry=STRING,
    volume=STRING,
    readOnly=BOOL,
    user=STRING,
    group=STRING,
    tenant=STRING,
)
AZURE_DISK_VOLUME_SOURCE = fields(
    go_name="AzureDiskVolumeSource",
    package=PKG,
    diskName=STRING,
    diskURI=STRING,
    cachingMode=STRING,
    fsType=STRING,
    readOnly=BOOL,
    kind=STRING,
)
PHOTON_PERSISTENT_DISK_VOLUME_SOURCE = fields(
    go_name="PhotonPersistentDiskVolumeSource", package=PKG, pdID=STRING, fsType=STRING
)
SECRET_PROJECTION = fields(
    go_name="SecretProjection",
    package=PKG,
    **LOCAL_OBJECT_REFERENCE,
    items=ListOf(KEY_TO_PATH, list_type="atomic"),
    optional=BOOL,
)
DOWNWARD_API_PROJECTION = fields(
    go_name="DownwardAPIProjection",
    package=PKG,
    items=ListOf(DOWNWARD_API_VOLUME_FILE, list_type="atomic"),
)
CONFIG_MAP_PROJECTION = fields(
    go_name="ConfigMapProjection",
    package=PKG,
    **LOCAL_OBJECT_REFERENCE,
    items=ListOf(KEY_TO_PATH, list_type="atomic"),
    optional=BOOL,
)
SERVICE_ACCOUNT_TOKEN_PROJECTION = fields(
    go_name="ServiceAccountTokenProjection",
    package=PKG,
    audience=STRING,
    expirationSeconds=INT64,
    path=STRING,
)
CLUSTER_TRUST_BUNDLE_PROJECTION = fields(
    go_name="ClusterTrustBundleProjection",
    package=PKG,
    name=STRING,
    signerName=STRING,
    labelSelector=meta.LABEL_SELECTOR,
    optional=BOOL,
    path=STRING,
)
POD_CERTIFICATE_PROJECTION = fields(
    go_name="PodCertificateProjection",
    package=PKG,
    signerName=STRING,
    keyType=STRING,
    maxExpirationSeconds=INT32,
    credentialBundlePath=STRING,
    keyPath=STRING,
    certificateChainPath=STRING,
    userAnnotations=MapOf(STRING),
)
VOLUME_PROJECTION = fields(
    go_name="VolumeProjection",
    package=PKG,
    secret=SECRET_PROJECTION,
    downwardAPI=DOWNWARD_API_PROJECTION,
    configMap=CONFIG_MAP_PROJECTION,
    serviceAccountToken=SERVICE_ACCOUNT_TOKEN_PROJECTION,
    clusterTrustBundle=CLUSTER_TRUST_BUNDLE_PROJECTION,
    podCertificate=POD_CERTIFICATE_PROJECTION,
)
PROJECTED_VOLUME_SOURCE = fields(
    go_name="ProjectedVolumeSource",
    package=PKG,
    sources=ListOf(VOLUME_PROJECTION, list_type="atomic"),
    defaultMode=INT32,
)
PORTWORX_VOLUME_SOURCE = fields(
    go_name="PortworxVolumeSource", package=PKG, volumeID=STRING, fsType=STRING, readOnly=BOOL
)
SCALE_IO_VOLUME_SOURCE = fields(
    go_name="ScaleIOVolumeSource",
    package=PKG,
    gateway=STRING,
    system=STRING,
    secretRef=LOCAL_OBJECT_REFERENCE,
    sslEnabled=BOOL,
    protectionDomain=STRING,
    storagePool=STRING,
    storageMode=STRING,
    volumeName=STRING,
    fsType=STRING,
    readOnly=BOOL,
)
STORAGE_OS_VOLUME_SOURCE = fields(
    go_name="StorageOSVolumeSource",
    package=PKG,
    volumeName=STRING,
    volumeNamespace=STRING,
    fsType=STRING,
    readOnly=BOOL,
    secretRef=LOCAL_OBJECT_REFERENCE,
)
CSI_VOLUME_SOURCE = fields(
    go_name="CSIVolumeSource",
    package=PKG,
    driver=STRING,
    readOnly=BOOL,
    fsType=STRING,
    volumeAttributes=MapOf(STRING),
    nodePublishSecretRef=LOCAL_OBJECT_REFERENCE,
)
VOLUME_RESOURCE_REQUIREMENTS = fields(
    go_name="VolumeResourceRequirements",
    package=PKG,
    limits=MapOf(QUANTITY),
    requests=MapOf(QUANTITY),
)
TYPED_LOCAL_OBJECT_REFERENCE = fields(
    go_name="TypedLocalObjectReference", package=PKG, apiGroup=STRING, kind=STRING, name=STRING
)
TYPED_OBJECT_REFERENCE = fields(
    go_name="TypedObjectReference",
    package=PKG,
    apiGroup=STRING,
    kind=STRING,
    name=STRING,
    namespace=STRING,
)
PERSISTENT_VOLUME_CLAIM_SPEC = fields(
    go_name="PersistentVolumeClaimSpec",
    package=PKG,
    accessModes=ListOf(STRING, list_type="atomic"),
    selector=meta.LABEL_SELECTOR,
    resources=VOLUME_RESOURCE_REQUIREMENTS,
    volumeName=STRING,
    storageClassName=STRING,
    volumeMode=STRING,
    dataSource=TYPED_LOCAL_OBJECT_REFERENCE,
    dataSourceRef=TYPED_OBJECT_REFERENCE,
    volumeAttributesClassName=STRING,
)
PERSISTENT_VOLUME_CLAIM_TEMPLATE = fields(
    go_name="PersistentVolumeClaimTemplate",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=PERSISTENT_VOLUME_CLAIM_SPEC,
)
EPHEMERAL_VOLUME_SOURCE = fields(
    go_name="EphemeralVolumeSource",
    package=PKG,
    volumeClaimTemplate=PERSISTENT_VOLUME_CLAIM_TEMPLATE,
)
IMAGE_VOLUME_SOURCE = fields(
    go_name="ImageVolumeSource", package=PKG, reference=STRING, pullPolicy=STRING
)
VOLUME_SOURCE = fields(
    go_name="VolumeSource",
    package=PKG,
    hostPath=HOST_PATH_VOLUME_SOURCE,
    emptyDir=EMPTY_DIR_VOLUME_SOURCE,
    gcePersistentDisk=GCE_PERSISTENT_DISK_VOLUME_SOURCE,
    awsElasticBlockStore=AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE,
    gitRepo=GIT_REPO_VOLUME_SOURCE,
    secret=SECRET_VOLUME_SOURCE,
    nfs=NFS_VOLUME_SOURCE,
    iscsi=ISCSI_VOLUME_SOURCE,
    glusterfs=GLUSTERFS_VOLUME_SOURCE,
    persistentVolumeClaim=PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE,
    rbd=RBD_VOLUME_SOURCE,
    flexVolume=FLEX_VOLUME_SOURCE,
    cinder=CINDER_VOLUME_SOURCE,
    cephfs=CEPH_FS_VOLUME_SOURCE,
    flocker=FLOCKER_VOLUME_SOURCE,
    downwardAPI=DOWNWARD_API_VOLUME_SOURCE,
    fc=FC_VOLUME_SOURCE,
    azureFile=AZURE_FILE_VOLUME_SOURCE,
    configMap=CONFIG_MAP_VOLUME_SOURCE,
    vsphereVolume=VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE,
    quobyte=QUOBYTE_VOLUME_SOURCE,
    azureDisk=AZURE_DISK_VOLUME_SOURCE,
    photonPersistentDisk=PHOTON_PERSISTENT_DISK_VOLUME_SOURCE,
    projected=PROJECTED_VOLUME_SOURCE,
    portworxVolume=PORTWORX_VOLUME_SOURCE,
    scaleIO=SCALE_IO_VOLUME_SOURCE,
    storageos=STORAGE_OS_VOLUME_SOURCE,
    csi=CSI_VOLUME_SOURCE,
    ephemeral=EPHEMERAL_VOLUME_SOURCE,
    image=IMAGE_VOLUME_SOURCE,
)
VOLUME = fields(go_name="Volume", package=PKG, **VOLUME_SOURCE, name=STRING)
CONTAINER_PORT = fields(
    go_name="ContainerPort",
    package=PKG,
    name=STRING,
    hostPort=INT32,
    containerPort=INT32,
    protocol=STRING,
    hostIP=STRING,
)
CONFIG_MAP_ENV_SOURCE = fields(
    go_name="ConfigMapEnvSource", package=PKG, **LOCAL_OBJECT_REFERENCE, optional=BOOL
)
SECRET_ENV_SOURCE = fields(
    go_name="SecretEnvSource", package=PKG, **LOCAL_OBJECT_REFERENCE, optional=BOOL
)
ENV_FROM_SOURCE = fields(
    go_name="EnvFromSource",
    package=PKG,
    prefix=STRING,
    configMapRef=CONFIG_MAP_ENV_SOURCE,
    secretRef=SECRET_ENV_SOURCE,
)
CONFIG_MAP_KEY_SELECTOR = fields(
    go_name="ConfigMapKeySelector", package=PKG, **LOCAL_OBJECT_REFERENCE, key=STRING, optional=BOOL
)
SECRET_KEY_SELECTOR = fields(
    go_name="SecretKeySelector", package=PKG, **LOCAL_OBJECT_REFERENCE, key=STRING, optional=BOOL
)
FILE_KEY_SELECTOR = fields(
    go_name="FileKeySelector",
    package=PKG,
    volumeName=STRING,
    path=STRING,
    key=STRING,
    optional=BOOL,
)
ENV_VAR_SOURCE = fields(
    go_name="EnvVarSource",
    package=PKG,
    fieldRef=OBJECT_FIELD_SELECTOR,
    resourceFieldRef=RESOURCE_FIELD_SELECTOR,
    configMapKeyRef=CONFIG_MAP_KEY_SELECTOR,
    secretKeyRef=SECRET_KEY_SELECTOR,
    fileKeyRef=FILE_KEY_SELECTOR,
)
ENV_VAR = fields(go_name="EnvVar", package=PKG, name=STRING, value=STRING, valueFrom=ENV_VAR_SOURCE)
RESOURCE_CLAIM = fields(go_name="ResourceClaim", package=PKG, name=STRING, request=STRING)
RESOURCE_REQUIREMENTS = fields(
    go_name="ResourceRequirements",
    package=PKG,
    limits=MapOf(QUANTITY),
    requests=MapOf(QUANTITY),
    claims=ListOf(RESOURCE_CLAIM, list_type="map", map_keys=("name",)),
)
CONTAINER_RESIZE_POLICY = fields(
    go_name="ContainerResizePolicy", package=PKG, resourceName=STRING, restartPolicy=STRING
)
CONTAINER_RESTART_RULE_ON_EXIT_CODES = fields(
    go_name="ContainerRestartRuleOnExitCodes",
    package=PKG,
    operator=STRING,
    values=ListOf(INT32, list_type="set"),
)
CONTAINER_RESTART_RULE = fields(
    go_name="ContainerRestartRule",
    package=PKG,
    action=STRING,
    exitCodes=CONTAINER_RESTART_RULE_ON_EXIT_CODES,
)
VOLUME_MOUNT = fields(
    go_name="VolumeMount",
    package=PKG,
    name=STRING,
    readOnly=BOOL,
    recursiveReadOnly=STRING,
    mountPath=STRING,
    subPath=STRING,
    mountPropagation=STRING,
    subPathExpr=STRING,
)
VOLUME_DEVICE = fields(go_name="VolumeDevice", package=PKG, name=STRING, devicePath=STRING)
EXEC_ACTION = fields(go_name="ExecAction", package=PKG, command=ListOf(STRING, list_type="atomic"))
HTTP_HEADER = fields(go_name="HTTPHeader", package=PKG, name=STRING, value=STRING)
HTTP_GET_ACTION = fields(
    go_name="HTTPGetAction",
    package=PKG,
    path=STRING,
    port=INT_OR_STRING,
    host=STRING,
    scheme=STRING,
    httpHeaders=ListOf(HTTP_HEADER, list_type="atomic"),
)
TCP_SOCKET_ACTION = fields(go_name="TCPSocketAction", package=PKG, port=INT_OR_STRING, host=STRING)
GRPC_ACTION = fields(go_name="GRPCAction", package=PKG, port=INT32, service=STRING)
PROBE_HANDLER = fields(
    go_name="ProbeHandler",
    package=PKG,
    exec=EXEC_ACTION,
    httpGet=HTTP_GET_ACTION,
    tcpSocket=TCP_SOCKET_ACTION,
    grpc=GRPC_ACTION,
)
PROBE = fields(
    go_name="Probe",
    package=PKG,
    **PROBE_HANDLER,
    initialDelaySeconds=INT32,
    timeoutSeconds=INT32,
    periodSeconds=INT32,
    successThreshold=INT32,
    failureThreshold=INT32,
    terminationGracePeriodSeconds=INT64,
)
SLEEP_ACTION = fields(go_name="SleepAction", package=PKG, seconds=INT64)
LIFECYCLE_HANDLER = fields(
    go_name="LifecycleHandler",
    package=PKG,
    exec=EXEC_ACTION,
    httpGet=HTTP_GET_ACTION,
    tcpSocket=TCP_SOCKET_ACTION,
    sleep=SLEEP_ACTION,
)
LIFECYCLE = fields(
    go_name="Lifecycle",
    package=PKG,
    postStart=LIFECYCLE_HANDLER,
    preStop=LIFECYCLE_HANDLER,
    stopSignal=STRING,
)
CAPABILITIES = fields(
    go_name="Capabilities",
    package=PKG,
    add=ListOf(STRING, list_type="atomic"),
    drop=ListOf(STRING, list_type="atomic"),
)
SE_LINUX_OPTIONS = fields(
    go_name="SELinuxOptions", package=PKG, user=STRING, role=STRING, type=STRING, level=STRING
)
WINDOWS_SECURITY_CONTEXT_OPTIONS = fields(
    go_name="WindowsSecurityContextOptions",
    package=PKG,
    gmsaCredentialSpecName=STRING,
    gmsaCredentialSpec=STRING,
    runAsUserName=STRING,
    hostProcess=BOOL,
)
SECCOMP_PROFILE = fields(
    go_name="SeccompProfile", package=PKG, type=STRING, localhostProfile=STRING
)
APP_ARMOR_PROFILE = fields(
    go_name="AppArmorProfile", package=PKG, type=STRING, localhostProfile=STRING
)
SECURITY_CONTEXT = fields(
    go_name="SecurityContext",
    package=PKG,
    capabilities=CAPABILITIES,
    privileged=BOOL,
    seLinuxOptions=SE_LINUX_OPTIONS,
    windowsOptions=WINDOWS_SECURITY_CONTEXT_OPTIONS,
    runAsUser=INT64,
    runAsGroup=INT64,
    runAsNonRoot=BOOL,
    readOnlyRootFilesystem=BOOL,
    allowPrivilegeEscalation=BOOL,
    procMount=STRING,
    seccompProfile=SECCOMP_PROFILE,
    appArmorProfile=APP_ARMOR_PROFILE,
)
#: Container and EphemeralContainerCommon have the same fields (kube keeps them in step).
_CONTAINER_FIELDS: dict[str, Any] = dict(
    name=STRING,
    image=STRING,
    command=ListOf(STRING, list_type="atomic"),
    args=ListOf(STRING, list_type="atomic"),
    workingDir=STRING,
    ports=ListOf(
        CONTAINER_PORT,
        list_type="map",
        map_keys=("containerPort", "protocol"),
        merge_key="containerPort",
        strategy="merge",
    ),
    envFrom=ListOf(ENV_FROM_SOURCE, list_type="atomic"),
    env=ListOf(ENV_VAR, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"),
    resources=RESOURCE_REQUIREMENTS,
    resizePolicy=ListOf(CONTAINER_RESIZE_POLICY, list_type="atomic"),
    restartPolicy=STRING,
    restartPolicyRules=ListOf(CONTAINER_RESTART_RULE, list_type="atomic"),
    volumeMounts=ListOf(
        VOLUME_MOUNT,
        list_type="map",
        map_keys=("mountPath",),
        merge_key="mountPath",
        strategy="merge",
    ),
    volumeDevices=ListOf(
        VOLUME_DEVICE,
        list_type="map",
        map_keys=("devicePath",),
        merge_key="devicePath",
        strategy="merge",
    ),
    livenessProbe=PROBE,
    readinessProbe=PROBE,
    startupProbe=PROBE,
    lifecycle=LIFECYCLE,
    terminationMessagePath=STRING,
    terminationMessagePolicy=STRING,
    imagePullPolicy=STRING,
    securityContext=SECURITY_CONTEXT,
    stdin=BOOL,
    stdinOnce=BOOL,
    tty=BOOL,
)
CONTAINER = fields(go_name="Container", package=PKG, **_CONTAINER_FIELDS)
EPHEMERAL_CONTAINER_COMMON = fields(
    go_name="EphemeralContainerCommon", package=PKG, **_CONTAINER_FIELDS
)
EPHEMERAL_CONTAINER = fields(
    go_name="EphemeralContainer",
    package=PKG,
    **EPHEMERAL_CONTAINER_COMMON,
    targetContainerName=STRING,
)
SYSCTL = fields(go_name="Sysctl", package=PKG, name=STRING, value=STRING)
POD_SECURITY_CONTEXT = fields(
    go_name="PodSecurityContext",
    package=PKG,
    seLinuxOptions=SE_LINUX_OPTIONS,
    windowsOptions=WINDOWS_SECURITY_CONTEXT_OPTIONS,
    runAsUser=INT64,
    runAsGroup=INT64,
    runAsNonRoot=BOOL,
    supplementalGroups=ListOf(INT64, list_type="atomic"),
    supplementalGroupsPolicy=STRING,
    fsGroup=INT64,
    sysctls=ListOf(SYSCTL, list_type="atomic"),
    fsGroupChangePolicy=STRING,
    seccompProfile=SECCOMP_PROFILE,
    appArmorProfile=APP_ARMOR_PROFILE,
    seLinuxChangePolicy=STRING,
)
NODE_SELECTOR_REQUIREMENT = fields(
    go_name="NodeSelectorRequirement",
    package=PKG,
    key=STRING,
    operator=STRING,
    values=ListOf(STRING, list_type="atomic"),
)
NODE_SELECTOR_TERM = fields(
    go_name="NodeSelectorTerm",
    package=PKG,
    matchExpressions=ListOf(NODE_SELECTOR_REQUIREMENT, list_type="atomic"),
    matchFields=ListOf(NODE_SELECTOR_REQUIREMENT, list_type="atomic"),
)
NODE_SELECTOR = fields(
    go_name="NodeSelector",
    package=PKG,
    nodeSelectorTerms=ListOf(NODE_SELECTOR_TERM, list_type="atomic"),
)
PREFERRED_SCHEDULING_TERM = fields(
    go_name="PreferredSchedulingTerm", package=PKG, weight=INT32, preference=NODE_SELECTOR_TERM
)
NODE_AFFINITY = fields(
    go_name="NodeAffinity",
    package=PKG,
    requiredDuringSchedulingIgnoredDuringExecution=NODE_SELECTOR,
    preferredDuringSchedulingIgnoredDuringExecution=ListOf(
        PREFERRED_SCHEDULING_TERM, list_type="atomic"
    ),
)
POD_AFFINITY_TERM = fields(
    go_name="PodAffinityTerm",
    package=PKG,
    labelSelector=meta.LABEL_SELECTOR,
    namespaces=ListOf(STRING, list_type="atomic"),
    topologyKey=STRING,
    namespaceSelector=meta.LABEL_SELECTOR,
    matchLabelKeys=ListOf(STRING, list_type="atomic"),
    mismatchLabelKeys=ListOf(STRING, list_type="atomic"),
)
WEIGHTED_POD_AFFINITY_TERM = fields(
    go_name="WeightedPodAffinityTerm", package=PKG, weight=INT32, podAffinityTerm=POD_AFFINITY_TERM
)
POD_AFFINITY = fields(
    go_name="PodAffinity",
    package=PKG,
    requiredDuringSchedulingIgnoredDuringExecution=ListOf(POD_AFFINITY_TERM, list_type="atomic"),
    preferredDuringSchedulingIgnoredDuringExecution=ListOf(
        WEIGHTED_POD_AFFINITY_TERM, list_type="atomic"
    ),
)
POD_ANTI_AFFINITY = fields(
    go_name="PodAntiAffinity",
    package=PKG,
    requiredDuringSchedulingIgnoredDuringExecution=ListOf(POD_AFFINITY_TERM, list_type="atomic"),
    preferredDuringSchedulingIgnoredDuringExecution=ListOf(
        WEIGHTED_POD_AFFINITY_TERM, list_type="atomic"
    ),
)
AFFINITY = fields(
    go_name="Affinity",
    package=PKG,
    nodeAffinity=NODE_AFFINITY,
    podAffinity=POD_AFFINITY,
    podAntiAffinity=POD_ANTI_AFFINITY,
)
TOLERATION = fields(
    go_name="Toleration",
    package=PKG,
    key=STRING,
    operator=STRING,
    value=STRING,
    effect=STRING,
    tolerationSeconds=INT64,
)
HOST_ALIAS = fields(
    go_name="HostAlias", package=PKG, ip=STRING, hostnames=ListOf(STRING, list_type="atomic")
)
POD_DNS_CONFIG_OPTION = fields(go_name="PodDNSConfigOption", package=PKG, name=STRING, value=STRING)
POD_DNS_CONFIG = fields(
    go_name="PodDNSConfig",
    package=PKG,
    nameservers=ListOf(STRING, list_type="atomic"),
    searches=ListOf(STRING, list_type="atomic"),
    options=ListOf(POD_DNS_CONFIG_OPTION, list_type="atomic"),
)
POD_READINESS_GATE = fields(go_name="PodReadinessGate", package=PKG, conditionType=STRING)
TOPOLOGY_SPREAD_CONSTRAINT = fields(
    go_name="TopologySpreadConstraint",
    package=PKG,
    maxSkew=INT32,
    topologyKey=STRING,
    whenUnsatisfiable=STRING,
    labelSelector=meta.LABEL_SELECTOR,
    minDomains=INT32,
    nodeAffinityPolicy=STRING,
    nodeTaintsPolicy=STRING,
    matchLabelKeys=ListOf(STRING, list_type="atomic"),
)
POD_OS = fields(go_name="PodOS", package=PKG, name=STRING)
POD_SCHEDULING_GATE = fields(go_name="PodSchedulingGate", package=PKG, name=STRING)
POD_RESOURCE_CLAIM = fields(
    go_name="PodResourceClaim",
    package=PKG,
    name=STRING,
    resourceClaimName=STRING,
    resourceClaimTemplateName=STRING,
)
POD_SCHEDULING_GROUP = fields(go_name="PodSchedulingGroup", package=PKG, podGroupName=STRING)
POD_SPEC = fields(
    go_name="PodSpec",
    package=PKG,
    volumes=ListOf(
        VOLUME, list_type="map", map_keys=("name",), merge_key="name", strategy="merge,retainKeys"
    ),
    initContainers=ListOf(
        CONTAINER, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    containers=ListOf(
        CONTAINER, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    ephemeralContainers=ListOf(
        EPHEMERAL_CONTAINER, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    restartPolicy=STRING,
    terminationGracePeriodSeconds=INT64,
    activeDeadlineSeconds=INT64,
    dnsPolicy=STRING,
    nodeSelector=MapOf(STRING),
    serviceAccountName=STRING,
    serviceAccount=STRING,
    automountServiceAccountToken=BOOL,
    nodeName=STRING,
    hostNetwork=BOOL,
    hostPID=BOOL,
    hostIPC=BOOL,
    shareProcessNamespace=BOOL,
    securityContext=POD_SECURITY_CONTEXT,
    imagePullSecrets=ListOf(
        LOCAL_OBJECT_REFERENCE,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
    hostname=STRING,
    subdomain=STRING,
    affinity=AFFINITY,
    schedulerName=STRING,
    tolerations=ListOf(TOLERATION, list_type="atomic"),
    hostAliases=ListOf(
        HOST_ALIAS, list_type="map", map_keys=("ip",), merge_key="ip", strategy="merge"
    ),
    priorityClassName=STRING,
    priority=INT32,
    dnsConfig=POD_DNS_CONFIG,
    readinessGates=ListOf(POD_READINESS_GATE, list_type="atomic"),
    runtimeClassName=STRING,
    enableServiceLinks=BOOL,
    preemptionPolicy=STRING,
    overhead=MapOf(QUANTITY),
    topologySpreadConstraints=ListOf(
        TOPOLOGY_SPREAD_CONSTRAINT,
        list_type="map",
        map_keys=("topologyKey", "whenUnsatisfiable"),
        merge_key="topologyKey",
        strategy="merge",
    ),
    setHostnameAsFQDN=BOOL,
    os=POD_OS,
    hostUsers=BOOL,
    schedulingGates=ListOf(
        POD_SCHEDULING_GATE, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    resourceClaims=ListOf(
        POD_RESOURCE_CLAIM,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge,retainKeys",
    ),
    resources=RESOURCE_REQUIREMENTS,
    hostnameOverride=STRING,
    schedulingGroup=POD_SCHEDULING_GROUP,
)
POD_CONDITION = fields(
    go_name="PodCondition",
    package=PKG,
    type=STRING,
    observedGeneration=INT64,
    status=STRING,
    lastProbeTime=TIME,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
HOST_IP = fields(go_name="HostIP", package=PKG, ip=STRING)
POD_IP = fields(go_name="PodIP", package=PKG, ip=STRING)
CONTAINER_STATE_WAITING = fields(
    go_name="ContainerStateWaiting", package=PKG, reason=STRING, message=STRING
)
CONTAINER_STATE_RUNNING = fields(go_name="ContainerStateRunning", package=PKG, startedAt=TIME)
CONTAINER_STATE_TERMINATED = fields(
    go_name="ContainerStateTerminated",
    package=PKG,
    exitCode=INT32,
    signal=INT32,
    reason=STRING,
    message=STRING,
    startedAt=TIME,
    finishedAt=TIME,
    containerID=STRING,
)
CONTAINER_STATE = fields(
    go_name="ContainerState",
    package=PKG,
    waiting=CONTAINER_STATE_WAITING,
    running=CONTAINER_STATE_RUNNING,
    terminated=CONTAINER_STATE_TERMINATED,
)
IMAGE_VOLUME_STATUS = fields(go_name="ImageVolumeStatus", package=PKG, imageRef=STRING)
VOLUME_STATUS = fields(go_name="VolumeStatus", package=PKG, image=IMAGE_VOLUME_STATUS)
VOLUME_MOUNT_STATUS = fields(
    go_name="VolumeMountStatus",
    package=PKG,
    name=STRING,
    mountPath=STRING,
    readOnly=BOOL,
    recursiveReadOnly=STRING,
    volumeStatus=VOLUME_STATUS,
)
LINUX_CONTAINER_USER = fields(
    go_name="LinuxContainerUser",
    package=PKG,
    uid=INT64,
    gid=INT64,
    supplementalGroups=ListOf(INT64, list_type="atomic"),
)
CONTAINER_USER = fields(go_name="ContainerUser", package=PKG, linux=LINUX_CONTAINER_USER)
RESOURCE_HEALTH = fields(
    go_name="ResourceHealth", package=PKG, resourceID=STRING, health=STRING, message=STRING
)
RESOURCE_STATUS = fields(
    go_name="ResourceStatus",
    package=PKG,
    name=STRING,
    resources=ListOf(RESOURCE_HEALTH, list_type="map", map_keys=("resourceID",)),
)
CONTAINER_STATUS = fields(
    go_name="ContainerStatus",
    package=PKG,
    name=STRING,
    state=CONTAINER_STATE,
    lastState=CONTAINER_STATE,
    ready=BOOL,
    restartCount=INT32,
    image=STRING,
    imageID=STRING,
    containerID=STRING,
    started=BOOL,
    allocatedResources=MapOf(QUANTITY),
    resources=RESOURCE_REQUIREMENTS,
    volumeMounts=ListOf(
        VOLUME_MOUNT_STATUS,
        list_type="map",
        map_keys=("mountPath",),
        merge_key="mountPath",
        strategy="merge",
    ),
    user=CONTAINER_USER,
    allocatedResourcesStatus=ListOf(
        RESOURCE_STATUS, list_type="map", map_keys=("name",), merge_key="name", strategy="merge"
    ),
    stopSignal=STRING,
)
POD_RESOURCE_CLAIM_STATUS = fields(
    go_name="PodResourceClaimStatus", package=PKG, name=STRING, resourceClaimName=STRING
)
CONTAINER_EXTENDED_RESOURCE_REQUEST = fields(
    go_name="ContainerExtendedResourceRequest",
    package=PKG,
    containerName=STRING,
    resourceName=STRING,
    requestName=STRING,
)
POD_EXTENDED_RESOURCE_CLAIM_STATUS = fields(
    go_name="PodExtendedResourceClaimStatus",
    package=PKG,
    requestMappings=ListOf(CONTAINER_EXTENDED_RESOURCE_REQUEST, list_type="atomic"),
    resourceClaimName=STRING,
)
NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS = fields(
    go_name="NodeAllocatableResourceClaimStatus",
    package=PKG,
    resourceClaimName=STRING,
    containers=ListOf(STRING, list_type="set"),
    resources=MapOf(QUANTITY),
)
POD_STATUS = fields(
    go_name="PodStatus",
    package=PKG,
    observedGeneration=INT64,
    phase=STRING,
    conditions=ListOf(
        POD_CONDITION, list_type="map", map_keys=("type",), merge_key="type", strategy="merge"
    ),
    message=STRING,
    reason=STRING,
    nominatedNodeName=STRING,
    hostIP=STRING,
    hostIPs=ListOf(HOST_IP, list_type="atomic", merge_key="ip", strategy="merge"),
    podIP=STRING,
    podIPs=ListOf(POD_IP, list_type="map", map_keys=("ip",), merge_key="ip", strategy="merge"),
    startTime=TIME,
    initContainerStatuses=ListOf(CONTAINER_STATUS, list_type="atomic"),
    containerStatuses=ListOf(CONTAINER_STATUS, list_type="atomic"),
    qosClass=STRING,
    ephemeralContainerStatuses=ListOf(CONTAINER_STATUS, list_type="atomic"),
    resize=STRING,
    resourceClaimStatuses=ListOf(
        POD_RESOURCE_CLAIM_STATUS,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge,retainKeys",
    ),
    extendedResourceClaimStatus=POD_EXTENDED_RESOURCE_CLAIM_STATUS,
    allocatedResources=MapOf(QUANTITY),
    resources=RESOURCE_REQUIREMENTS,
    nodeAllocatableResourceClaimStatuses=ListOf(
        NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS, list_type="atomic"
    ),
)
POD = fields(
    go_name="Pod", package=PKG, metadata=meta.OBJECT_META, spec=POD_SPEC, status=POD_STATUS
)
POD_TEMPLATE_SPEC = fields(
    go_name="PodTemplateSpec", package=PKG, metadata=meta.OBJECT_META, spec=POD_SPEC
)
