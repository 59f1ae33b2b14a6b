"""Which user a container runs as, and which group owns its pod's volumes.

Kubernetes takes a container's user from ``securityContext.runAsUser`` /
``runAsGroup`` (the container's over the pod's), else from its image; its
supplementary groups are the pod's ``supplementalGroups`` plus ``fsGroup``,
and volumes that support ownership management (configMap, secret,
downwardAPI, projected, emptyDir) are group-owned by ``fsGroup`` with group
read (and write, for writable ones) added -- so a non-root container can read
a ``defaultMode: 0400`` Secret when the pod sets ``fsGroup``.

A wasm module has no image user.  A node agent running as root therefore
runs containers whose pod names no user as the node's default user
(``NodeConfig.pods.default_user``, nobody), and treats such a pod as if it
had ``fsGroup`` set to that user's group: its volumes stay readable to it, as
a root container's are on a real cluster.  An agent that is not root runs
every container as itself and changes no ownership.

One place computes this, for every runtime: :func:`identity_for` (what
``ContainerLaunch.identity`` carries) and :func:`volume_group` (what the pod's
volumes are chowned to).
"""

from __future__ import annotations

import dataclasses
import os

from kubelet_core._provider.base import KubeObject


@dataclasses.dataclass(frozen=True)
class ProcessIdentity:
    """The user, group and supplementary groups of a container's process.

    ``uid`` None means "the agent's own user" (an agent that is not root);
    ``gid`` None keeps the agent's group, as Kubernetes keeps the image's.
    """

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()


def _contexts(pod: KubeObject, container: KubeObject | None) -> tuple[KubeObject, KubeObject]:
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    own = (container or {}).get("securityContext") or {}
    return pod_context, own


def _names_a_user(pod: KubeObject) -> bool:
    """Whether the pod or any of its containers asks for a user or group."""
    spec = pod.get("spec") or {}
    contexts = [spec.get("securityContext") or {}]
    for key in ("initContainers", "containers"):
        contexts += [c.get("securityContext") or {} for c in spec.get(key) or []]
    return any("runAsUser" in c or "runAsGroup" in c for c in contexts)


def volume_group(pod: KubeObject, default_user: int | None) -> int | None:
    """The group the pod's volumes belong to (``fsGroup``, or the implied one), or None."""
    if os.geteuid() != 0:
        return None  # only root can give files away
    pod_context, _ = _contexts(pod, None)
    if pod_context.get("fsGroup") is not None:
        return int(pod_context["fsGroup"])
    if default_user is not None and not _names_a_user(pod):
        return default_user
    return None


def identity_for(
    pod: KubeObject, container: KubeObject, default_user: int | None
) -> ProcessIdentity:
    """The identity ``container`` runs with on this node (see the module docstring)."""
    if os.geteuid() != 0:
        return ProcessIdentity()
    pod_context, own = _contexts(pod, container)
    uid = own.get("runAsUser", pod_context.get("runAsUser"))
    gid = own.get("runAsGroup", pod_context.get("runAsGroup"))
    if uid is None:
        uid = default_user
        if gid is None:
            gid = default_user
    groups = [int(g) for g in pod_context.get("supplementalGroups") or []]
    fs_group = volume_group(pod, default_user)
    if fs_group is not None and fs_group not in groups:
        groups.append(fs_group)
    return ProcessIdentity(
        uid=None if uid is None else int(uid),
        gid=None if gid is None else int(gid),
        groups=tuple(groups),
    )
