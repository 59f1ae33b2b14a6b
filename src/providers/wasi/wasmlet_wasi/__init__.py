"""wasmlet's WASI provider: wasm32-wasi command modules as Kubernetes containers.

``provider`` (the Provider), ``runtime`` (one module on its own thread, with
limits and stop), ``engine`` (the shared wasmtime engine, epoch clock and
compiled-module caches), ``cache`` (serialized modules on disk), ``logs``
(stdout/stderr into the log file), ``quantity`` (resource quantities).
"""
