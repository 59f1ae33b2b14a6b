"""Authorization with ``rbac.authorization.k8s.io/v1``, as kube-apiserver and kubeadm set it up.

* :mod:`.rules`: the one PolicyRule matcher (allow, and cover for escalation checks);
* :mod:`.authorizer`: what bindings grant a user;
* :mod:`.validation`: field rules of the four kinds (roleRef immutable);
* :mod:`.escalation`: a user may grant only what they hold, or with ``escalate``/``bind``;
* :mod:`.bootstrap`: the default roles and bindings, reconciled at every start;
* :mod:`.aggregation`: the ClusterRole aggregation controller (``admin``/``edit``/``view``).
"""
