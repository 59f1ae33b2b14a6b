"""wasmlet's benchmark suite: ``python -m benchmarks`` (see benchmarks/README.md).

Every scenario runs against a real embedded control plane and a real node agent,
each in its own subprocess, so the agent's CPU, memory, threads and file
descriptors are read from its own process and the driver's work (creating pods,
watching them) is charged to neither.
"""
