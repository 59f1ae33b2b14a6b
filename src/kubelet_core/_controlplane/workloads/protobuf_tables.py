"""Protobuf field tables for the workload kinds kubectl's typed clients send.

``kubectl create deployment|job|cronjob`` encode their bodies as protobuf; these tables
(field numbers from k8s.io/api's generated.proto) let ``protobuf.decode`` read them.
``kubectl create job --from=cronjob/NAME`` sends a whole copied pod template, so the
template tables cover what pod specs commonly carry (resources, env sources, volumes of
the usual kinds, probes, security contexts); fields still missing are dropped as unknown.
Non-pointer Go fields tagged omitempty are the ``*_omitempty`` kinds: Go always writes
them, JSON leaves them out at their zero value.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.protobuf import LABEL_SELECTOR as SELECTOR
from kubelet_core._controlplane.protobuf import OBJECT_META, Table

_S, _I, _B, _M, _RS, _RM = "string", "int", "bool", "message", "repeated_string", "repeated_message"
_BO, _IO, _IOS = "bool_omitempty", "int_omitempty", "intorstr"
LOCAL_OBJECT_REFERENCE: Table = {1: ("name", _S, None)}
# core/v1 embeds LocalObjectReference in key selectors and sources (json:",inline").
_NAMED: Table = {1: ("localObjectReference", "inline", LOCAL_OBJECT_REFERENCE)}
RESOURCES: Table = {
    1: ("limits", "map_quantity", None),
    2: ("requests", "map_quantity", None),
    3: ("claims", _RM, {1: ("name", _S, None), 2: ("request", _S, None)}),
}
ENV_VAR_SOURCE: Table = {
    1: ("fieldRef", _M, {1: ("apiVersion", _S, None), 2: ("fieldPath", _S, None)}),
    2: (
        "resourceFieldRef",
        _M,
        {
            1: ("containerName", _S, None),
            2: ("resource", _S, None),
            3: ("divisor", "quantity", None),
        },
    ),
    3: ("configMapKeyRef", _M, {**_NAMED, 2: ("key", _S, None), 3: ("optional", _B, None)}),
    4: ("secretKeyRef", _M, {**_NAMED, 2: ("key", _S, None), 3: ("optional", _B, None)}),
}
ENV_FROM_SOURCE: Table = {
    1: ("prefix", _S, None),
    2: ("configMapRef", _M, {**_NAMED, 2: ("optional", _B, None)}),
    3: ("secretRef", _M, {**_NAMED, 2: ("optional", _B, None)}),
}
VOLUME_MOUNT: Table = {
    1: ("name", _S, None),
    2: ("readOnly", _BO, None),
    3: ("mountPath", _S, None),
    4: ("subPath", _S, None),
    5: ("mountPropagation", _S, None),
    6: ("subPathExpr", _S, None),
    7: ("recursiveReadOnly", _S, None),
}
_HTTP_GET: Table = {
    1: ("path", _S, None),
    2: ("port", _IOS, None),
    3: ("host", _S, None),
    4: ("scheme", _S, None),
    5: ("httpHeaders", _RM, {1: ("name", _S, None), 2: ("value", _S, None)}),
}
PROBE_HANDLER: Table = {
    1: ("exec", _M, {1: ("command", _RS, None)}),
    2: ("httpGet", _M, _HTTP_GET),
    3: ("tcpSocket", _M, {1: ("port", _IOS, None), 2: ("host", _S, None)}),
    4: ("grpc", _M, {1: ("port", _I, None), 2: ("service", _S, None)}),
}
PROBE: Table = {
    1: ("handler", "inline", PROBE_HANDLER),
    2: ("initialDelaySeconds", _IO, None),
    3: ("timeoutSeconds", _IO, None),
    4: ("periodSeconds", _IO, None),
    5: ("successThreshold", _IO, None),
    6: ("failureThreshold", _IO, None),
    7: ("terminationGracePeriodSeconds", _I, None),
}
SECURITY_CONTEXT: Table = {
    1: ("capabilities", _M, {1: ("add", _RS, None), 2: ("drop", _RS, None)}),
    2: ("privileged", _B, None),
    4: ("runAsUser", _I, None),
    5: ("runAsNonRoot", _B, None),
    6: ("readOnlyRootFilesystem", _B, None),
    7: ("allowPrivilegeEscalation", _B, None),
    8: ("runAsGroup", _I, None),
    9: ("procMount", _S, None),
}
POD_SECURITY_CONTEXT: Table = {
    2: ("runAsUser", _I, None),
    3: ("runAsNonRoot", _B, None),
    4: ("supplementalGroups", "repeated_int", None),
    5: ("fsGroup", _I, None),
    6: ("runAsGroup", _I, None),
    7: ("sysctls", _RM, {1: ("name", _S, None), 2: ("value", _S, None)}),
    9: ("fsGroupChangePolicy", _S, None),
}
CONTAINER: Table = {
    1: ("name", _S, None),
    2: ("image", _S, None),
    3: ("command", _RS, None),
    4: ("args", _RS, None),
    5: ("workingDir", _S, None),
    6: (
        "ports",
        _RM,
        {
            1: ("name", _S, None),
            2: ("hostPort", _IO, None),
            3: ("containerPort", _I, None),
            4: ("protocol", _S, None),
            5: ("hostIP", _S, None),
        },
    ),
    7: (
        "env",
        _RM,
        {1: ("name", _S, None), 2: ("value", _S, None), 3: ("valueFrom", _M, ENV_VAR_SOURCE)},
    ),
    8: ("resources", _M, RESOURCES),
    9: ("volumeMounts", _RM, VOLUME_MOUNT),
    10: ("livenessProbe", _M, PROBE),
    11: ("readinessProbe", _M, PROBE),
    13: ("terminationMessagePath", _S, None),
    14: ("imagePullPolicy", _S, None),
    15: ("securityContext", _M, SECURITY_CONTEXT),
    16: ("stdin", _BO, None),
    17: ("stdinOnce", _BO, None),
    18: ("tty", _BO, None),
    19: ("envFrom", _RM, ENV_FROM_SOURCE),
    20: ("terminationMessagePolicy", _S, None),
    22: ("startupProbe", _M, PROBE),
    24: ("restartPolicy", _S, None),
}
_KEY_TO_PATH: Table = {1: ("key", _S, None), 2: ("path", _S, None), 3: ("mode", _I, None)}
VOLUME_SOURCE: Table = {
    1: ("hostPath", _M, {1: ("path", _S, None), 2: ("type", _S, None)}),
    2: ("emptyDir", _M, {1: ("medium", _S, None), 2: ("sizeLimit", "quantity", None)}),
    6: (
        "secret",
        _M,
        {
            1: ("secretName", _S, None),
            2: ("items", _RM, _KEY_TO_PATH),
            3: ("defaultMode", _I, None),
            4: ("optional", _B, None),
        },
    ),
    10: ("persistentVolumeClaim", _M, {1: ("claimName", _S, None), 2: ("readOnly", _BO, None)}),
    19: (
        "configMap",
        _M,
        {
            **_NAMED,
            2: ("items", _RM, _KEY_TO_PATH),
            3: ("defaultMode", _I, None),
            4: ("optional", _B, None),
        },
    ),
}
POD_SPEC: Table = {
    1: ("volumes", _RM, {1: ("name", _S, None), 2: ("volumeSource", "inline", VOLUME_SOURCE)}),
    2: ("containers", _RM, CONTAINER),
    3: ("restartPolicy", _S, None),
    4: ("terminationGracePeriodSeconds", _I, None),
    5: ("activeDeadlineSeconds", _I, None),
    6: ("dnsPolicy", _S, None),
    7: ("nodeSelector", "map_string", None),
    8: ("serviceAccountName", _S, None),
    9: ("serviceAccount", _S, None),
    10: ("nodeName", _S, None),
    11: ("hostNetwork", _BO, None),
    12: ("hostPID", _BO, None),
    13: ("hostIPC", _BO, None),
    14: ("securityContext", _M, POD_SECURITY_CONTEXT),
    15: ("imagePullSecrets", _RM, LOCAL_OBJECT_REFERENCE),
    16: ("hostname", _S, None),
    17: ("subdomain", _S, None),
    19: ("schedulerName", _S, None),
    20: ("initContainers", _RM, CONTAINER),
    21: ("automountServiceAccountToken", _B, None),
    22: (
        "tolerations",
        _RM,
        {
            1: ("key", _S, None),
            2: ("operator", _S, None),
            3: ("value", _S, None),
            4: ("effect", _S, None),
            5: ("tolerationSeconds", _I, None),
        },
    ),
    24: ("priorityClassName", _S, None),
    25: ("priority", _I, None),
    29: ("runtimeClassName", _S, None),
    30: ("enableServiceLinks", _B, None),
    31: ("preemptionPolicy", _S, None),
}
TEMPLATE: Table = {1: ("metadata", _M, OBJECT_META), 2: ("spec", _M, POD_SPEC)}
JOB_SPEC: Table = {
    1: ("parallelism", _I, None),
    2: ("completions", _I, None),
    3: ("activeDeadlineSeconds", _I, None),
    4: ("selector", _M, SELECTOR),
    5: ("manualSelector", _B, None),
    6: ("template", _M, TEMPLATE),
    7: ("backoffLimit", _I, None),
    8: ("ttlSecondsAfterFinished", _I, None),
    9: ("completionMode", _S, None),
    10: ("suspend", _B, None),
}
KINDS: dict[str, Table] = {
    "Deployment": {
        1: ("metadata", _M, OBJECT_META),
        2: (
            "spec",
            _M,
            {
                1: ("replicas", _I, None),
                2: ("selector", _M, SELECTOR),
                3: ("template", _M, TEMPLATE),
                4: (
                    "strategy",
                    _M,
                    {
                        1: ("type", _S, None),
                        2: (
                            "rollingUpdate",
                            _M,
                            {
                                1: ("maxUnavailable", "intorstr", None),
                                2: ("maxSurge", "intorstr", None),
                            },
                        ),
                    },
                ),
                5: ("minReadySeconds", "int_omitempty", None),
                6: ("revisionHistoryLimit", _I, None),
                7: ("paused", "bool_omitempty", None),
                9: ("progressDeadlineSeconds", _I, None),
            },
        ),
    },
    "Job": {1: ("metadata", _M, OBJECT_META), 2: ("spec", _M, JOB_SPEC)},
    "CronJob": {
        1: ("metadata", _M, OBJECT_META),
        2: (
            "spec",
            _M,
            {
                1: ("schedule", _S, None),
                2: ("startingDeadlineSeconds", _I, None),
                3: ("concurrencyPolicy", _S, None),
                4: ("suspend", _B, None),
                5: (
                    "jobTemplate",
                    _M,
                    {1: ("metadata", _M, OBJECT_META), 2: ("spec", _M, JOB_SPEC)},
                ),
                6: ("successfulJobsHistoryLimit", _I, None),
                7: ("failedJobsHistoryLimit", _I, None),
                8: ("timeZone", _S, None),
            },
        ),
    },
}


def int_or_string(fields: dict[str, Any]) -> int | str:
    """intstr.IntOrString: type 0 carries intVal, type 1 strVal."""
    if fields.get("type") == 1:
        return str(fields.get("strVal", ""))
    return int(fields.get("intVal", 0))
