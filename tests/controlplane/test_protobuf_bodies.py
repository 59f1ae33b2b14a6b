"""Every protobuf body kubectl's typed clients send arrives whole (field numbers checked).

kubectl's Go structs are the independent encoder: ``--dry-run=client -o json`` prints the
object a command builds, the real run sends that same object as protobuf (asserted from
kubectl's request log), and every populated field must come back from the server
unchanged. Values are distinct per field, so a field number swapped in our tables (or a
field missing from them) shows as a mismatch or a loss. ``create job --from=cronjob``
copies a whole, fully populated pod template; reviews are checked by their answers.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelet_core._controlplane import ControlPlane
from tests.controlplane.conftest import Client
from tests.controlplane.test_kubectl import Kubectl

pytestmark = pytest.mark.needs_kubectl

KubeObject = dict[str, Any]
PROTOBUF = "application/vnd.kubernetes.protobuf"


@pytest.fixture
async def env(tmp_path: Path, kubectl: str) -> AsyncIterator[tuple[Kubectl, Client]]:
    async with (
        ControlPlane(tmp_path / "cp", scheduler=False) as cp,
        aiohttp.ClientSession() as session,
    ):
        yield Kubectl(kubectl, cp.kubeconfig_path, tmp_path), Client(cp, session)


def written_content_types(log: str) -> list[str]:
    """Content-Types of the POST/PUT requests in kubectl's ``-v=7`` log."""
    requests = re.findall(r'"Request" verb="(?:POST|PUT)" url="[^"]*" headers=<(.*?)>', log, re.S)
    return [m.group(1) for r in requests if (m := re.search(r"Content-Type: (\S+)", r))]


async def sent_as_protobuf(k: Kubectl, *args: str) -> str:
    """Run a kubectl command, asserting that it wrote its object as protobuf."""
    _rc, out, err = await k.run("-v=7", *args)
    assert written_content_types(err) == [PROTOBUF], err
    return out


async def created_over_protobuf(k: Kubectl, *args: str) -> KubeObject:
    """``kubectl create ...`` for real (protobuf); returns the object kubectl built."""
    split = args.index("--") if "--" in args else len(args)  # after it: the container's
    dry_run = [*args[:split], "--dry-run=client", "-o", "json", *args[split:]]
    built: KubeObject = json.loads(await k.out(*dry_run))
    await sent_as_protobuf(k, *args)
    return built


def populated(value: Any) -> bool:
    """Whether a JSON value holds anything beyond nulls and empty containers."""
    if isinstance(value, dict):
        return any(populated(item) for item in value.values())
    if isinstance(value, list):
        return bool(value)
    return value is not None


def assert_kept(sent: Any, stored: Any, path: str = "") -> None:
    """Every populated field of ``sent`` is in ``stored`` with the same value."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), f"{path}: {stored!r}"
        for key, value in sent.items():
            if not populated(value):
                continue  # Go zero values that JSON prints but nothing stores
            assert key in stored, f"{path}.{key} was lost (sent {value!r})"
            assert_kept(value, stored[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent), f"{path}: {stored!r}"
        for index, (item, kept) in enumerate(zip(sent, stored, strict=True)):
            assert_kept(item, kept, f"{path}[{index}]")
    else:
        assert stored == sent, f"{path}: stored {stored!r}, sent {sent!r}"


async def stored(client: Client, built: KubeObject) -> KubeObject:
    """The stored object for what kubectl built, read back as JSON."""
    group_version = built["apiVersion"]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    cluster_scoped = built["kind"] in {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    namespace = None if cluster_scoped else built["metadata"].get("namespace", "default")
    resource = {
        "ClusterRole": "clusterroles",
        "ClusterRoleBinding": "clusterrolebindings",
        "ConfigMap": "configmaps",
        "CronJob": "cronjobs",
        "Deployment": "deployments",
        "Job": "jobs",
        "Namespace": "namespaces",
        "Role": "roles",
        "RoleBinding": "rolebindings",
        "Secret": "secrets",
        "Service": "services",
        "ServiceAccount": "serviceaccounts",
    }[built["kind"]]
    scope = f"/namespaces/{namespace}" if namespace else ""
    return await client.ok("GET", f"{base}{scope}/{resource}/{built['metadata']['name']}")


async def test_core_kinds_arrive_whole(env: tuple[Kubectl, Client], tmp_path: Path) -> None:
    k, client = env
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)))
    commands = [
        "create namespace team",
        f"create configmap cfg -n team --from-literal=a=b --from-file=blob={binary}",
        "create secret generic s1 -n team --from-literal=p=q --type=example.com/custom",
        "create secret docker-registry pull -n team --docker-server=r.test --docker-username=u"
        " --docker-password=pw",
        "create serviceaccount robot -n team",
    ]
    for command in commands:
        built = await created_over_protobuf(k, *shlex.split(command))
        assert_kept(built, await stored(client, built))
    cm = await client.ok("GET", "/api/v1/namespaces/team/configmaps/cfg")
    assert base64.b64decode(cm["binaryData"]["blob"]) == bytes(range(256))


async def test_workloads_and_services_arrive_whole(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    commands = [
        "create deployment web --image=example/web:1 --replicas=3 --port=8080 -- serve --fast",
        "create job once --image=example/once:1 -- run now",
        "create cronjob tick --image=example/tick:1 '--schedule=*/5 * * * *' --restart=OnFailure"
        " -- tick",
        "create service clusterip api --tcp=5678:8080 --tcp=9090:metrics",
        "create service clusterip headless --clusterip=None --tcp=80:80",
        "create service nodeport np --tcp=80:8080 --node-port=30080",
        "create service loadbalancer lb --tcp=443:8443",
        "create service externalname ext --external-name=db.example.com",
    ]
    for command in commands:
        built = await created_over_protobuf(k, *shlex.split(command))
        kept = await stored(client, built)
        assert_kept(built, kept)
    # Go writes its non-pointer zero values; kube-apiserver's JSON leaves omitempty ones out.
    deployment = await client.ok("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert not {"paused", "minReadySeconds"} & set(deployment["spec"])
    service = await client.ok("GET", "/api/v1/namespaces/default/services/api")
    assert "publishNotReadyAddresses" not in service["spec"]


async def test_rbac_kinds_arrive_whole(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    commands = [
        "create role reader --verb=get,list --resource=pods,deployments.apps --resource-name=one",
        "create clusterrole logs --verb=get '--non-resource-url=/logs/*'",
        "create clusterrole combined --aggregation-rule=rbac.example.com/agg=true",
        "create rolebinding rb --role=reader --user=alice --group=devs"
        " --serviceaccount=default:robot",
        "create clusterrolebinding crb --clusterrole=logs --user=bob",
    ]
    for command in commands:
        built = await created_over_protobuf(k, *shlex.split(command))
        assert_kept(built, await stored(client, built))


FULL_CONTAINER: KubeObject = {
    "name": "main",
    "image": "example/main:2",
    "command": ["run"],
    "args": ["--flag", "value"],
    "workingDir": "/work",
    "ports": [
        {"name": "http", "containerPort": 8080, "hostPort": 18080, "protocol": "UDP"}
        | {"hostIP": "127.0.0.2"}
    ],
    "envFrom": [
        {"prefix": "CFG_", "configMapRef": {"name": "env-map", "optional": True}},
        {"secretRef": {"name": "env-secret", "optional": False}},
    ],
    "env": [
        {"name": "PLAIN", "value": "v"},
        {
            "name": "FIELD",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
        },
        {
            "name": "MEMORY",
            "valueFrom": {
                "resourceFieldRef": {
                    "containerName": "main",
                    "resource": "limits.memory",
                    "divisor": "1Mi",
                }
            },
        },
        {
            "name": "MAP",
            "valueFrom": {"configMapKeyRef": {"name": "m", "key": "mk", "optional": True}},
        },
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "sk"}}},
    ],
    "resources": {
        "limits": {"cpu": "2", "memory": "256Mi"},
        "requests": {"cpu": "500m", "memory": "128Mi"},
    },
    "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True, "subPath": "sub"},
        {"name": "scratch", "mountPath": "/scratch", "subPathExpr": "$(POD)"}
        | {"mountPropagation": "None"},
    ],
    "livenessProbe": {
        "httpGet": {
            "path": "/healthz",
            "port": "http",
            "host": "localhost",
            "scheme": "HTTPS",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}],
        },
        "initialDelaySeconds": 3,
        "timeoutSeconds": 4,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 7,
        "terminationGracePeriodSeconds": 8,
    },
    "readinessProbe": {"tcpSocket": {"port": 8080, "host": "127.0.0.3"}, "periodSeconds": 9},
    "startupProbe": {"exec": {"command": ["check", "--ready"]}, "failureThreshold": 30},
    "terminationMessagePath": "/dev/last-words",
    "terminationMessagePolicy": "FallbackToLogsOnError",
    "imagePullPolicy": "Always",
    "securityContext": {
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "privileged": False,
        "runAsUser": 1001,
        "runAsGroup": 1002,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
    },
    "stdin": True,
    "stdinOnce": True,
    "tty": True,
}
FULL_POD_SPEC: KubeObject = {
    "volumes": [
        {
            "name": "cfg",
            "configMap": {
                "name": "cfg-map",
                "items": [{"key": "k", "path": "p", "mode": 0o400}],
                "defaultMode": 0o440,
                "optional": True,
            },
        },
        {"name": "sec", "secret": {"secretName": "sec-name", "defaultMode": 0o600}},
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "host", "hostPath": {"path": "/var/data", "type": "Directory"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "pvc-1", "readOnly": True}},
    ],
    "initContainers": [{"name": "init", "image": "example/init:1", "command": ["setup"]}],
    "containers": [FULL_CONTAINER],
    "restartPolicy": "OnFailure",
    "terminationGracePeriodSeconds": 11,
    "activeDeadlineSeconds": 12,
    "dnsPolicy": "Default",
    "nodeSelector": {"disk": "ssd"},
    "serviceAccountName": "robot",
    "serviceAccount": "robot",
    "automountServiceAccountToken": False,
    "nodeName": "n7",
    "hostPID": True,
    "hostIPC": True,
    "securityContext": {
        "runAsUser": 2001,
        "runAsGroup": 2002,
        "runAsNonRoot": True,
        "supplementalGroups": [3001, 3002],
        "fsGroup": 2003,
        "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
        "fsGroupChangePolicy": "OnRootMismatch",
    },
    "imagePullSecrets": [{"name": "registry-key"}],
    "hostname": "h1",
    "subdomain": "sub",
    "schedulerName": "batch-scheduler",
    "tolerations": [
        {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}
        | {"tolerationSeconds": 13}
    ],
    "priority": 14,
    "runtimeClassName": "wasm",
    "enableServiceLinks": False,
    "preemptionPolicy": "Never",
}
FULL_JOB_SPEC: KubeObject = {
    "parallelism": 2,
    "completions": 3,
    "activeDeadlineSeconds": 15,
    "backoffLimit": 16,
    "manualSelector": True,
    "selector": {
        "matchLabels": {"app": "full"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}],
    },
    "ttlSecondsAfterFinished": 17,
    "completionMode": "Indexed",
    "suspend": True,
    "template": {
        "metadata": {"labels": {"app": "full", "tier": "batch"}, "annotations": {"n": "kept"}},
        "spec": FULL_POD_SPEC,
    },
}


async def test_a_job_copied_from_a_cronjob_keeps_the_whole_template(
    env: tuple[Kubectl, Client],
) -> None:
    k, client = env
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "full"},
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "Europe/Paris",
            "startingDeadlineSeconds": 18,
            "concurrencyPolicy": "Forbid",
            "suspend": True,
            "successfulJobsHistoryLimit": 4,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {"metadata": {"labels": {"copied": "yes"}}, "spec": FULL_JOB_SPEC},
        },
    }
    await client.ok("POST", "/apis/batch/v1/namespaces/default/cronjobs", cronjob)
    built = await created_over_protobuf(k, "create", "job", "manual", "--from=cronjob/full")
    assert_kept(FULL_JOB_SPEC, built["spec"])  # kubectl copied all of it
    job = await stored(client, built)
    assert_kept(built, job)
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"


async def can_i(k: Kubectl, *args: str) -> str:
    """alice's answer from ``kubectl auth can-i`` (a protobuf SelfSubjectAccessReview)."""
    rc, out, err = await k.run("-v=7", "auth", "can-i", *args, "--as=alice", check=False)
    assert written_content_types(err) == [PROTOBUF], err
    assert rc in (0, 1), err
    return out.strip()


async def test_access_review_answers_depend_on_every_attribute(
    env: tuple[Kubectl, Client],
) -> None:
    k, _client = env
    await k.out("create", "namespace", "team")
    await k.out("create", "role", "one-log", "-n", "team", "--verb=get", "--resource=pods/log")
    await k.out("patch", "role", "one-log", "-n", "team", "--type=json", "-p", ONE_NAME)
    await k.out("create", "rolebinding", "one-log", "-n", "team", "--role=one-log")
    await k.out("create", "clusterrole", "logs", "--verb=get", "--non-resource-url=/logs/*")
    await k.out("create", "clusterrolebinding", "logs", "--clusterrole=logs", "--user=alice")
    await k.out("patch", "rolebinding", "one-log", "-n", "team", "--type=json", "-p", ALICE)
    assert await can_i(k, "get", "pods/p1", "--subresource=log", "-n", "team") == "yes"
    for other in [
        ("get", "pods/p2", "--subresource=log", "-n", "team"),
        ("get", "pods/p1", "-n", "team"),
        ("get", "pods/p1", "--subresource=log", "-n", "default"),
        ("list", "pods/p1", "--subresource=log", "-n", "team"),
        ("get", "pods.example.com/p1", "--subresource=log", "-n", "team"),
    ]:
        assert await can_i(k, *other) == "no", other
    assert await can_i(k, "get", "/logs/today") == "yes"
    assert await can_i(k, "post", "/logs/today") == "no"
    assert await can_i(k, "get", "/metrics") == "no"


ONE_NAME = '[{"op": "add", "path": "/rules/0/resourceNames", "value": ["p1"]}]'
ALICE = '[{"op": "add", "path": "/subjects", "value": [{"kind": "User", "name": "alice"}]}]'


async def test_rules_and_self_reviews(env: tuple[Kubectl, Client]) -> None:
    k, _client = env
    await k.out("create", "namespace", "team")
    await k.out("create", "role", "reader", "-n", "team", "--verb=watch", "--resource=secrets")
    await k.out("create", "rolebinding", "reader", "-n", "team", "--role=reader", "--user=alice")
    rules = await sent_as_protobuf(k, "auth", "can-i", "--list", "-n", "team", "--as=alice")
    assert re.search(r"^secrets\s+\[\]\s+\[\]\s+\[watch\]$", rules, re.M), rules
    elsewhere = await sent_as_protobuf(k, "auth", "can-i", "--list", "--as=alice")
    assert "secrets" not in elsewhere
    whoami = await sent_as_protobuf(k, "auth", "whoami", "--as=alice", "-o", "json")
    assert json.loads(whoami)["status"]["userInfo"]["username"] == "alice"


async def test_a_bound_token_request_arrives_whole(env: tuple[Kubectl, Client]) -> None:
    k, client = env
    await k.out("create", "serviceaccount", "robot")
    pod = await client.ok(
        "POST",
        "/api/v1/namespaces/default/pods",
        {
            "metadata": {"name": "p"},
            "spec": {
                "serviceAccountName": "robot",
                "containers": [{"name": "c", "image": "example/c:1"}],
            },
        },
    )
    uid = pod["metadata"]["uid"]
    token = await sent_as_protobuf(
        k,
        "create",
        "token",
        "robot",
        "--audience=one",
        "--audience=two",
        "--duration=11m",
        "--bound-object-kind=Pod",
        "--bound-object-name=p",
        f"--bound-object-uid={uid}",
    )
    payload = token.strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == ["one", "two"]
    assert claims["exp"] - claims["iat"] == 660
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": uid}
