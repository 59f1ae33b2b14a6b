"""Workload controllers, one per concern, as kube-controller-manager runs them.

``manager.WorkloadControllers`` starts them on the control plane's store and registry:
the ReplicaSet, Deployment, DaemonSet, Job, CronJob and TTL-after-finished controllers,
all reading one ``clock.Clock``. Serving the types (``defaults``, ``validation``,
``tables`` printer columns, the ``scale`` subresource) is done by the sibling modules,
hooked into the registry and API.
"""
