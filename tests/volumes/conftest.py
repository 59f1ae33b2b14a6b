"""The ``wasmlet`` fixture (``wasmlet up`` as a subprocess) for the stack tests here."""

from tests.e2e.conftest import wasmlet

__all__ = ["wasmlet"]
