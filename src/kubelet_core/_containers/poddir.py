"""The name of a pod's directories on the node: kubelet's ``<namespace>_<name>_<uid>``.

Its own small module because both the volumes (heavy: object watches, the
API client) and the log writer (light: a module host imports it) name a
pod's directory, and a host must not import the volumes to do so.
"""

from __future__ import annotations

from kubelet_core._apiclient.objects import name, namespace, uid
from kubelet_core._provider.base import KubeObject


def pod_dir_name(pod: KubeObject) -> str:
    """The directory of ``pod``'s volumes and logs (an unset namespace is ``default``)."""
    return f"{namespace(pod)}_{name(pod)}_{uid(pod)}"
