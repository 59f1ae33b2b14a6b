"""batch/v1: the served types' field tables.

Field names, Go types and list markers as k8s.io/api v0.36 (kube 1.36) declares them; see
``schemas/__init__.py``.
"""

from __future__ import annotations

from kubelet_core._controlplane.schema import BOOL, INT32, INT64, STRING, TIME, ListOf, fields
from kubelet_core._controlplane.schemas import core, core_pod, meta

PKG = "io.k8s.api.batch.v1"

POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT = fields(
    go_name="PodFailurePolicyOnExitCodesRequirement",
    package=PKG,
    containerName=STRING,
    operator=STRING,
    values=ListOf(INT32, list_type="set"),
)
POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN = fields(
    go_name="PodFailurePolicyOnPodConditionsPattern", package=PKG, type=STRING, status=STRING
)
POD_FAILURE_POLICY_RULE = fields(
    go_name="PodFailurePolicyRule",
    package=PKG,
    action=STRING,
    onExitCodes=POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT,
    onPodConditions=ListOf(POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN, list_type="atomic"),
)
POD_FAILURE_POLICY = fields(
    go_name="PodFailurePolicy",
    package=PKG,
    rules=ListOf(POD_FAILURE_POLICY_RULE, list_type="atomic"),
)
SUCCESS_POLICY_RULE = fields(
    go_name="SuccessPolicyRule", package=PKG, succeededIndexes=STRING, succeededCount=INT32
)
SUCCESS_POLICY = fields(
    go_name="SuccessPolicy", package=PKG, rules=ListOf(SUCCESS_POLICY_RULE, list_type="atomic")
)
JOB_SPEC = fields(
    go_name="JobSpec",
    package=PKG,
    parallelism=INT32,
    completions=INT32,
    activeDeadlineSeconds=INT64,
    podFailurePolicy=POD_FAILURE_POLICY,
    successPolicy=SUCCESS_POLICY,
    backoffLimit=INT32,
    backoffLimitPerIndex=INT32,
    maxFailedIndexes=INT32,
    selector=meta.LABEL_SELECTOR,
    manualSelector=BOOL,
    template=core_pod.POD_TEMPLATE_SPEC,
    ttlSecondsAfterFinished=INT32,
    completionMode=STRING,
    suspend=BOOL,
    podReplacementPolicy=STRING,
    managedBy=STRING,
)
JOB_CONDITION = fields(
    go_name="JobCondition",
    package=PKG,
    type=STRING,
    status=STRING,
    lastProbeTime=TIME,
    lastTransitionTime=TIME,
    reason=STRING,
    message=STRING,
)
UNCOUNTED_TERMINATED_PODS = fields(
    go_name="UncountedTerminatedPods",
    package=PKG,
    succeeded=ListOf(STRING, list_type="set"),
    failed=ListOf(STRING, list_type="set"),
)
JOB_STATUS = fields(
    go_name="JobStatus",
    package=PKG,
    conditions=ListOf(JOB_CONDITION, list_type="atomic", merge_key="type", strategy="merge"),
    startTime=TIME,
    completionTime=TIME,
    active=INT32,
    succeeded=INT32,
    failed=INT32,
    terminating=INT32,
    completedIndexes=STRING,
    failedIndexes=STRING,
    uncountedTerminatedPods=UNCOUNTED_TERMINATED_PODS,
    ready=INT32,
)
JOB = fields(
    go_name="Job", package=PKG, metadata=meta.OBJECT_META, spec=JOB_SPEC, status=JOB_STATUS
)
JOB_TEMPLATE_SPEC = fields(
    go_name="JobTemplateSpec", package=PKG, metadata=meta.OBJECT_META, spec=JOB_SPEC
)
CRON_JOB_SPEC = fields(
    go_name="CronJobSpec",
    package=PKG,
    schedule=STRING,
    timeZone=STRING,
    startingDeadlineSeconds=INT64,
    concurrencyPolicy=STRING,
    suspend=BOOL,
    jobTemplate=JOB_TEMPLATE_SPEC,
    successfulJobsHistoryLimit=INT32,
    failedJobsHistoryLimit=INT32,
)
CRON_JOB_STATUS = fields(
    go_name="CronJobStatus",
    package=PKG,
    active=ListOf(core.OBJECT_REFERENCE, list_type="atomic"),
    lastScheduleTime=TIME,
    lastSuccessfulTime=TIME,
)
CRON_JOB = fields(
    go_name="CronJob",
    package=PKG,
    metadata=meta.OBJECT_META,
    spec=CRON_JOB_SPEC,
    status=CRON_JOB_STATUS,
)
