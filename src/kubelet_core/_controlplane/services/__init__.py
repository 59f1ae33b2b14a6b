"""Services as data: v1 Services and discovery.k8s.io/v1 EndpointSlices.

There is no kube-proxy in wasmlet: a Service's ClusterIP is allocated (so manifests,
``kubectl get svc`` and clients that read it behave as on a cluster) but nothing routes
it. Its EndpointSlices are real: a wasm pod shares its node's network, so an endpoint is
the node's IP and the port the workload really listens on.

* ``allocation``: ClusterIPs from the service CIDR and NodePorts from their range,
  computed from the stored Services (a deleted Service releases its values by going).
* ``service``: defaults, validation and allocation, the registry's one hook.
* ``endpointslices``: the EndpointSlice controller (pods matching a selector).
* ``apiserver``: the ``kubernetes`` Service in ``default`` and its endpoint.
* ``printers``: ``kubectl get`` columns and the types' schemas.
"""
