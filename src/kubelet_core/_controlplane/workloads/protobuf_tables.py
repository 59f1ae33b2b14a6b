"""Protobuf field tables for the workload kinds kubectl's typed clients send.

``kubectl create deployment|job|cronjob`` encode their bodies as protobuf; these tables
(field numbers from k8s.io/api's generated.proto) let ``protobuf.decode`` read them.
Only the fields those commands set are listed; others are dropped as unknown.
"""

from __future__ import annotations

from typing import Any

from kubelet_core._controlplane.protobuf import OBJECT_META, Table

_S, _I, _B, _M, _RS, _RM = "string", "int", "bool", "message", "repeated_string", "repeated_message"
QUANTITIES: Table = {}
SELECTOR: Table = {
    1: ("matchLabels", "map_string", None),
    2: (
        "matchExpressions",
        _RM,
        {1: ("key", _S, None), 2: ("operator", _S, None), 3: ("values", _RS, None)},
    ),
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
        {1: ("name", _S, None), 3: ("containerPort", _I, None), 4: ("protocol", _S, None)},
    ),
    7: ("env", _RM, {1: ("name", _S, None), 2: ("value", _S, None)}),
    8: ("resources", _M, QUANTITIES),
    13: ("terminationMessagePath", _S, None),
    14: ("imagePullPolicy", _S, None),
    20: ("terminationMessagePolicy", _S, None),
}
POD_SPEC: Table = {
    2: ("containers", _RM, CONTAINER),
    3: ("restartPolicy", _S, None),
    4: ("terminationGracePeriodSeconds", _I, None),
    5: ("activeDeadlineSeconds", _I, None),
    6: ("dnsPolicy", _S, None),
    7: ("nodeSelector", "map_string", None),
    8: ("serviceAccountName", _S, None),
    14: ("securityContext", _M, {}),
    19: ("schedulerName", _S, None),
    20: ("initContainers", _RM, CONTAINER),
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
                5: ("minReadySeconds", _I, None),
                6: ("revisionHistoryLimit", _I, None),
                7: ("paused", _B, None),
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
