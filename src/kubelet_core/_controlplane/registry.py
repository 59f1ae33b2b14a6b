"""API semantics on top of the store: create, update, patch, delete and bind.

This is where kube-apiserver's rules live: names and generateName, uid and timestamps,
optimistic concurrency on resourceVersion, status-subresource splitting, generation,
preconditions, graceful pod deletion, finalizers, namespace termination and
owner-reference garbage collection. The HTTP layer and the in-process scheduler both go
through it, so a binding made by the scheduler is exactly a POST to pods/binding.
Every mutation returns only after the write is durable in SQLite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from kubelet_core._apiclient.timefmt import rfc3339, utcnow
from kubelet_core._controlplane import certificates, errors, jsonutil, policy
from kubelet_core._controlplane.defaults import apply_defaults, apply_update_defaults, normalize
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.garbagecollector import propagation_finalizer
from kubelet_core._controlplane.rbac.validation import rbac_update_errors
from kubelet_core._controlplane.resources import (
    BY_KEY,
    CERTIFICATESIGNINGREQUESTS,
    CONFIGMAPS,
    DAEMONSETS,
    EVENTS,
    LEASES,
    NAMESPACES,
    PODS,
    RBAC_TYPES,
    RUNTIME_CLASSES,
    SECRETS,
    SERVICEACCOUNTS,
    ResourceType,
)
from kubelet_core._controlplane.runtimeclass import admit_pod, runtime_class_update_errors
from kubelet_core._controlplane.services.service import admit as admit_service
from kubelet_core._controlplane.store import Entry, Event, Store
from kubelet_core._controlplane.validation import (
    validate,
    validate_immutable_data,
    validate_pod_update,
)
from kubelet_core._controlplane.workloads.strategy import (
    prepare_daemonset_create,
    prepare_daemonset_update,
)
from kubelet_core._controlplane.workloads.validation import workload_update_errors

KubeObject = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_UNDELETABLE_NAMESPACES = ("default", "kube-system", "kube-public")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Types whose PUT creates a missing object (rest.Updater AllowCreateOnUpdate).
_CREATE_ON_UPDATE = (EVENTS, LEASES)
# Types that reject a PUT without metadata.resourceVersion.
_NEEDS_RV_ON_UPDATE = (LEASES,)


def now() -> str:
    return rfc3339()


def copy(obj: KubeObject) -> KubeObject:
    result: KubeObject = jsonutil.loads(jsonutil.dumps(obj))
    return result


def _deletes_during_update(rt: ResourceType, old: KubeObject) -> bool:
    """kube's ShouldDeleteDuringUpdate: an update that leaves no finalizers completes a
    deletion whose grace period is zero (or unset).

    A pod in its grace period is not removed by an update -- not even the status
    write that reports it terminated: that status is stored (watchers see the
    containers' exit codes), and the pod goes when its kubelet deletes it with
    grace 0.  Namespaces finish through their own controller.
    """
    meta = old["metadata"]
    if rt is NAMESPACES or not meta.get("deletionTimestamp"):
        return False
    return not meta.get("deletionGracePeriodSeconds")


def _entry_copy(entry: Entry) -> KubeObject:
    result: KubeObject = jsonutil.loads(entry.data)
    return result


def is_terminal(pod: KubeObject) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _typed(rt: ResourceType, obj: KubeObject) -> KubeObject:
    """The object with apiVersion and kind set and first, as the real server orders them."""
    result: KubeObject = {"kind": rt.kind, "apiVersion": rt.api_version}
    result.update((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion"))
    return result


class DeleteOptions:
    """The parts of metav1.DeleteOptions this server honours."""

    def __init__(self, body: KubeObject | None = None, query: dict[str, str] | None = None) -> None:
        body = body or {}
        query = query or {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        try:
            self.grace_period: int | None = int(grace) if grace not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise errors.bad_request(
                f'DeleteOptions in version "v1" cannot be handled as a DeleteOptions: '
                f"json: cannot unmarshal {type(grace).__name__} into Go struct field "
                "DeleteOptions.gracePeriodSeconds of type int64"
            ) from exc
        pre = body.get("preconditions") or {}
        self.uid: str | None = pre.get("uid")
        self.resource_version: str | None = pre.get("resourceVersion")
        self.propagation: str = str(
            body.get("propagationPolicy") or query.get("propagationPolicy") or "Background"
        )
        self.dry_run = bool(body.get("dryRun") or query.get("dryRun"))


class Registry:
    def __init__(self, store: Store, *, root_ca_pem: str = "") -> None:
        self.store = store
        self.root_ca_pem = root_ca_pem
        self._tasks: set[asyncio.Task[Any]] = set()
        store.add_listener(self._on_event)

    # -- helpers ---------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        entry = self.store.get(rt, namespace if rt.namespaced else "", name)
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    def read(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        """The committed object, for GET (``get`` also sees writes still committing)."""
        entry = self.store.read(rt, namespace if rt.namespaced else "", name)
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    async def _write(self, rt: ResourceType, obj: KubeObject) -> KubeObject:
        event, durable = self.store.put(rt, obj)
        await durable
        return event.obj

    async def _remove(self, rt: ResourceType, namespace: str, name: str) -> KubeObject | None:
        result = self.store.remove(rt, namespace, name)
        if result is None:
            return None
        event, durable = result
        await durable
        return event.obj

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- create ----------------------------------------------------------------------------
    async def create(
        self, rt: ResourceType, namespace: str, body: Any, *, dry_run: bool = False
    ) -> KubeObject:
        obj = self._check_body(rt, body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.invalid(
                rt.kind,
                rt.group,
                "",
                [("metadata", "FieldValueInvalid", "Invalid value: must be an object")],
            )
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match "
                    "the namespace sent on the request"
                )
            meta["namespace"] = namespace
            self._check_namespace_open(namespace)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice(_GENERATE_ALPHABET) for _ in range(5)
            )
        obj = _typed(rt, obj)
        meta = obj["metadata"]
        for field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rt.tracks_generation:
            meta["generation"] = 1
        if rt is CERTIFICATESIGNINGREQUESTS:
            certificates.prepare_create(obj)
        if rt is DAEMONSETS:
            prepare_daemonset_create(obj)
        apply_defaults(rt, obj)
        policy.default(rt, obj)
        normalize(rt, obj)
        causes = validate(rt, obj) + policy.validate(rt, obj)
        if rt is CERTIFICATESIGNINGREQUESTS:
            causes += certificates.validate_create(obj)
        causes += admit_service(self.store, rt, obj, None)
        if causes:
            raise errors.invalid(rt.kind, rt.group, meta.get("name") or "", causes)
        if self.store.get(rt, meta.get("namespace") or "", meta["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if rt is PODS:
            self._check_service_account(obj)
        policy.admit_create(self.store, rt, obj, self._admit_runtime_class(rt))
        if dry_run:
            return obj
        created = await self._write(rt, obj)
        if rt is NAMESPACES:
            # What the service-account and root-CA controllers do, done before answering
            # so that a pod created right after its namespace finds its service account.
            await self.ensure_namespace_content(meta["name"])
        return created

    def _admit_runtime_class(self, rt: ResourceType) -> Callable[[KubeObject], None]:
        if rt is not PODS:
            return lambda _obj: None
        return lambda pod: admit_pod(pod, self._runtime_class)

    def _runtime_class(self, name: str) -> KubeObject | None:
        entry = self.store.get(RUNTIME_CLASSES, "", name)
        return None if entry is None else entry.obj

    def _check_service_account(self, pod: KubeObject) -> None:
        """ServiceAccount admission: the pod's service account must exist."""
        namespace = pod["metadata"]["namespace"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        if self.store.get(SERVICEACCOUNTS, namespace, account) is None:
            name = pod["metadata"]["name"]
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: error looking up service account '
                f'{namespace}/{account}: serviceaccount "{account}" not found',
                {"name": name, "kind": "pods"},
            )

    def _check_body(self, rt: ResourceType, body: Any) -> KubeObject:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        kind = body.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the body ({kind}) does not match the resource ({rt.kind})"
            )
        api_version = body.get("apiVersion")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        return body

    def _check_namespace_open(self, namespace: str) -> None:
        entry = self.store.get(NAMESPACES, "", namespace)
        if entry is None:
            raise errors.not_found("namespaces", "", namespace)
        if entry.obj["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because "
                "it is being terminated",
                {
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    # -- update ----------------------------------------------------------------------------
    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> KubeObject:
        new = self._check_body(rt, body)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match "
                f"the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match "
                    "the namespace sent on the request"
                )
            meta["namespace"] = namespace
        entry = self.store.get(rt, namespace if rt.namespaced else "", name)
        if entry is None:
            if rt in _CREATE_ON_UPDATE and not subresource:
                return await self.create(rt, namespace, new, dry_run=dry_run)
            raise errors.not_found(rt.plural, rt.group, name)
        old = entry.obj
        rv = meta.get("resourceVersion")
        if rv:
            if rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
        elif rt in _NEEDS_RV_ON_UPDATE:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        new = self._merge_for_update(rt, old, new, subresource)
        if not subresource:
            apply_update_defaults(rt, new)
            policy.default(rt, new)
        normalize(rt, new)
        if rt.tracks_generation and old.get("spec") != new.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1
        if rt is DAEMONSETS and not subresource:
            prepare_daemonset_update(old, new)
        causes = validate(rt, new) + policy.validate(rt, new)
        if rt is PODS and not subresource:
            causes += validate_pod_update(old, new)
        if rt is CONFIGMAPS or rt is SECRETS:
            causes += validate_immutable_data(old, new)
        if rt is CERTIFICATESIGNINGREQUESTS:
            causes += certificates.validate_update(old, new, subresource)
        if rt is RUNTIME_CLASSES:
            causes += runtime_class_update_errors(old, new)
        if rt in RBAC_TYPES:
            causes += rbac_update_errors(old, new)
        causes += workload_update_errors(rt, old, new)
        causes += admit_service(self.store, rt, new, old) if not subresource else []
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)
        return await self._commit_update(rt, old, new, dry_run=dry_run)

    def _merge_for_update(
        self, rt: ResourceType, old: KubeObject, new: KubeObject, subresource: str
    ) -> KubeObject:
        new = _typed(rt, new)
        meta = new["metadata"]
        old_meta = old["metadata"]
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if rt is CERTIFICATESIGNINGREQUESTS:
            return certificates.merge_update(old, new, subresource)
        if rt.split_status:
            if subresource == "status":
                # Status writes change the status only: spec and metadata (labels,
                # annotations, finalizers...) stay as stored (ResetObjectMetaForStatus).
                merged = {k: v for k, v in old.items() if k != "status"}
                merged["metadata"] = dict(old_meta)
                if "status" in new:
                    merged["status"] = new["status"]
                new = merged
            else:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        if rt is PODS and not subresource:
            # Binding is the only way to set nodeName after creation.
            old_node = (old.get("spec") or {}).get("nodeName")
            spec = new.get("spec")
            if isinstance(spec, dict) and old_node and not spec.get("nodeName"):
                spec["nodeName"] = old_node
        if rt is NAMESPACES:
            new["status"] = (
                old.get("status", {"phase": "Active"})
                if subresource != "status"
                else new.get("status", old.get("status"))
            )
        return new

    async def _commit_update(
        self, rt: ResourceType, old: KubeObject, new: KubeObject, *, dry_run: bool = False
    ) -> KubeObject:
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or dry_run:
            return new  # a no-op update neither bumps resourceVersion nor emits an event
        meta = new["metadata"]
        if not meta.get("finalizers") and _deletes_during_update(rt, old):
            removed = await self._remove(rt, meta.get("namespace") or "", meta["name"])
            return removed or new
        return await self._write(rt, new)

    # -- patch -----------------------------------------------------------------------------
    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        apply: Callable[[KubeObject], KubeObject],
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> KubeObject:
        entry = self.get(rt, namespace, name)
        current = _entry_copy(entry)
        patched = apply(current)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            patched["metadata"] = meta = {}
        # A patch applies to the version it read unless it names a resourceVersion itself.
        if not meta.get("resourceVersion"):
            meta["resourceVersion"] = entry.obj["metadata"]["resourceVersion"]
        if meta.get("name", name) != name:  # kube's checkName, as for an update
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        return await self.update(
            rt, namespace, name, patched, subresource=subresource, dry_run=dry_run
        )

    # -- delete ----------------------------------------------------------------------------
    async def delete(
        self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions
    ) -> KubeObject:
        ns = namespace if rt.namespaced else ""
        entry = self.get(rt, ns, name)
        obj = entry.obj
        meta = obj["metadata"]
        if options.uid is not None and options.uid != meta["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {options.uid}, "
                f"UID in object meta: {meta['uid']}",
            )
        if (
            options.resource_version is not None
            and options.resource_version != meta["resourceVersion"]
        ):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{options.resource_version}, ResourceVersion in object meta: "
                f"{meta['resourceVersion']}",
            )
        if rt is NAMESPACES:
            return await self._delete_namespace(obj, options)
        if options.dry_run:
            return obj
        held = propagation_finalizer(options.propagation, meta)
        if held is not None:  # orphan / foreground: the garbage collector finishes it
            updated = _entry_copy(entry)
            updated["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), held]
            updated["metadata"].setdefault("deletionTimestamp", now())
            updated["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            return await self._write(rt, updated)
        grace = self._grace_period(rt, obj, options)
        if grace == 0 and not meta.get("finalizers"):
            removed = await self._remove(rt, ns, name)
            return removed if removed is not None else obj
        # Graceful (a bound pod) or held by finalizers: mark it and let others finish.
        if meta.get("deletionTimestamp") and grace >= (meta.get("deletionGracePeriodSeconds") or 0):
            return obj
        updated = _entry_copy(entry)
        deadline = utcnow() + dt.timedelta(seconds=grace)
        updated["metadata"]["deletionTimestamp"] = rfc3339(deadline)
        updated["metadata"]["deletionGracePeriodSeconds"] = grace
        return await self._write(rt, updated)

    def _grace_period(self, rt: ResourceType, obj: KubeObject, options: DeleteOptions) -> int:
        if rt is not PODS:
            return 0
        spec = obj.get("spec") or {}
        if not spec.get("nodeName") or is_terminal(obj):
            return 0
        if options.grace_period is not None:
            return max(0, options.grace_period)
        grace = spec.get("terminationGracePeriodSeconds")
        # Stored objects are decoded, but rows from before typed decoding may not be.
        return grace if isinstance(grace, int) and not isinstance(grace, bool) else 30

    async def _delete_namespace(self, obj: KubeObject, options: DeleteOptions) -> KubeObject:
        name = obj["metadata"]["name"]
        if name in _UNDELETABLE_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        if options.dry_run or obj["metadata"].get("deletionTimestamp"):
            return obj
        updated = copy(obj)
        updated["metadata"]["deletionTimestamp"] = now()
        updated["metadata"]["deletionGracePeriodSeconds"] = 0
        updated["status"] = {"phase": "Terminating"}
        result = await self._write(NAMESPACES, updated)
        self._spawn(self._empty_namespace(name))
        return result

    async def _empty_namespace(self, namespace: str) -> None:
        for rt in BY_KEY.values():
            if not rt.namespaced:
                continue
            for entry in list(self.store.entries(rt, namespace)):
                try:
                    await self.delete(rt, namespace, entry.obj["metadata"]["name"], DeleteOptions())
                except ApiError:
                    pass
        await self._maybe_finish_namespace(namespace)

    async def _maybe_finish_namespace(self, namespace: str) -> None:
        entry = self.store.get(NAMESPACES, "", namespace)
        if entry is None or not entry.obj["metadata"].get("deletionTimestamp"):
            return
        for rt in BY_KEY.values():
            if rt.namespaced and self.store.entries(rt, namespace):
                return
        await self._remove(NAMESPACES, "", namespace)

    # -- binding ---------------------------------------------------------------------------
    async def bind(self, namespace: str, name: str, binding: Any) -> None:
        await self.bind_now(namespace, name, binding)

    def bind_now(self, namespace: str, name: str, binding: Any) -> asyncio.Future[None]:
        """Bind synchronously (stored, watchers told); the future resolves once durable."""
        if not isinstance(binding, dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        target = binding.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid(
                "Binding", "", name, [("target.name", "FieldValueRequired", "Required value")]
            )
        entry = self.get(PODS, namespace, name)
        pod = entry.obj
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict(
                "pods", "", name, "pod is being deleted, cannot be assigned to a host"
            )
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(
                "pods", "", name, f'pod {name} is already assigned to node "{current}"'
            )
        uid = (binding.get("metadata") or {}).get("uid")
        if uid and uid != pod["metadata"]["uid"]:
            raise errors.conflict(
                "pods",
                "",
                name,
                "Precondition failed: UID in precondition: "
                f"{uid}, UID in object meta: {pod['metadata']['uid']}",
            )
        updated = _entry_copy(entry)
        updated["spec"]["nodeName"] = node
        status = updated.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now(),
            }
        )
        status["conditions"] = conditions
        _event, durable = self.store.put(PODS, updated)
        return durable

    # -- background reactions --------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.type == "DELETED":
            uid = event.obj["metadata"].get("uid")
            if uid and uid in self.store.dependents:
                self._spawn(self._collect(uid))
            ns = event.obj["metadata"].get("namespace")
            if ns and event.rt.namespaced:
                ns_entry = self.store.get(NAMESPACES, "", ns)
                if ns_entry is not None and ns_entry.obj["metadata"].get("deletionTimestamp"):
                    self._spawn(self._maybe_finish_namespace(ns))
        elif event.type == "ADDED" and event.rt is NAMESPACES:
            self._spawn(self.ensure_namespace_content(event.obj["metadata"]["name"]))

    async def _collect(self, owner_uid: str) -> None:
        """Garbage-collect dependents of a deleted owner (background propagation)."""
        for type_key, ns, name in list(self.store.dependents.get(owner_uid, ())):
            rt = BY_KEY[type_key]
            entry = self.store.get(rt, ns, name)
            if entry is None:
                continue
            refs = [
                r
                for r in entry.obj["metadata"].get("ownerReferences") or []
                if r.get("uid") != owner_uid
            ]
            try:
                if refs:
                    updated = _entry_copy(entry)
                    updated["metadata"]["ownerReferences"] = refs
                    await self._write(rt, updated)
                else:
                    await self.delete(rt, ns, name, DeleteOptions())
            except ApiError:
                pass

    async def ensure_namespace_content(self, namespace: str) -> None:
        """The ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap."""
        ns_entry = self.store.get(NAMESPACES, "", namespace)
        if ns_entry is None or ns_entry.obj["metadata"].get("deletionTimestamp"):
            return
        wanted: list[tuple[ResourceType, KubeObject]] = [
            (SERVICEACCOUNTS, {"metadata": {"name": "default"}}),
        ]
        if self.root_ca_pem:
            wanted.append(
                (
                    CONFIGMAPS,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle that can "
                                "be used to verify the kube-apiserver when using internal "
                                "endpoints such as the internal service IP or "
                                "kubernetes.default.svc. No other usage is guaranteed across "
                                "distributions of Kubernetes clusters."
                            },
                        },
                        "data": {"ca.crt": self.root_ca_pem},
                    },
                )
            )
        for rt, body in wanted:
            if self.store.get(rt, namespace, body["metadata"]["name"]) is None:
                try:
                    await self.create(rt, namespace, body)
                except ApiError:
                    pass

    async def bootstrap(self) -> None:
        """Create the system namespaces (and their default service accounts) if missing."""
        for ns in SYSTEM_NAMESPACES:
            if self.store.get(NAMESPACES, "", ns) is None:
                await self.create(NAMESPACES, "", {"metadata": {"name": ns}})
        for entry in list(self.store.entries(NAMESPACES)):
            await self.ensure_namespace_content(entry.obj["metadata"]["name"])
        await self.drain()
