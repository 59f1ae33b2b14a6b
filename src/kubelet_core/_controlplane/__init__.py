"""Embedded Kubernetes control plane: a real-HTTPS stand-in for kube-apiserver.

Usage::

    async with ControlPlane(data_dir) as cp:      # scheduler on, random port
        ...  # KUBECONFIG=cp.kubeconfig_path, or cp.pki.client_ssl_context() for raw HTTP

Layers, bottom up:

- ``persistence``: SQLite with group commit (write-through, one transaction per burst).
- ``store``: objects and their cached JSON, the global resourceVersion, watch fan-out
  and bounded history, in-process listeners.
- ``registry``: kube-apiserver semantics (create/update/patch/delete/bind, optimistic
  concurrency, status subresources, graceful deletion, finalizers, namespaces, GC),
  helped by ``defaults``, ``validation``, ``schema`` (unknown fields) and ``patch``.
- ``api`` + ``watch`` + ``tables`` + ``discovery`` + ``openapi``: the REST surface.
- ``auth`` + ``pki``: x509 client certificates from the cluster CA (bearer tokens via a
  hook); ``impersonation`` (``--as``); ``access``: the Node,RBAC authorizer chain, with
  ``node_authorizer`` and ``rbac`` (roles, bindings, bootstrap policy, aggregation,
  escalation checks); ``authn_authz`` answers TokenReview/SubjectAccessReview and
  ``reviews`` the self-reviews (``kubectl auth can-i``, ``auth whoami``).
- ``kubelet_proxy`` (pods/log) and ``metrics_api`` (metrics.k8s.io): reaching kubelets.
- ``scheduler``: binds pending pods through the registry's binding logic.
- ``server``: ControlPlane, tying it together (TLS, middleware, lifecycle).
"""

from kubelet_core._controlplane.server import ControlPlane, serve_forever

__all__ = ["ControlPlane", "serve_forever"]
