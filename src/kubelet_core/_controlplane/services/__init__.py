"""Services as data: v1 Services, discovery.k8s.io/v1 EndpointSlices and v1 Endpoints.

There is no kube-proxy in wasmlet: a Service's ClusterIP is allocated (so manifests,
``kubectl get svc`` and clients that read it behave as on a cluster) but nothing routes
it. Its EndpointSlices are real: a wasm pod shares its node's network, so an endpoint is
the node's IP and the port the workload really listens on.

* ``allocation``: ClusterIPs from the service CIDR and NodePorts from their range,
  computed from the stored Services (a deleted Service releases its values by going).
* ``service``: defaults, validation and allocation, the registry's one hook.
* ``addresses``: a selected pod as an endpoint (address, readiness, resolved ports).
* ``endpointslices``: the EndpointSlice controller (pods matching a selector), which
  also keeps the v1 Endpoints.
* ``endpoints``: the v1 Endpoints view of the same endpoints (subsets, trigger time).
* ``apiserver``: the ``kubernetes`` Service in ``default`` and its endpoints.
* ``printers``: ``kubectl get`` columns and the types' schemas.
"""
