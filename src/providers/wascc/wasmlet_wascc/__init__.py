"""wasmlet's waSCC provider: signed WebAssembly actors (waPC) with pluggable capabilities.

Layers, bottom up: :mod:`.keys` and :mod:`.sections` (nkeys, wasm custom
sections) under :mod:`.claims` (wascap-style signed claims); :mod:`.wapc`
(the waPC host on wasmtime) under :mod:`.pool` (instances on worker
threads); :mod:`.capabilities` (http_server, keyvalue, logging); and
:mod:`.actor` / :mod:`.provider` tying them to the container lifecycle.
:mod:`.cli` holds ``wasmlet actors keygen|sign|inspect``.
"""

from wasmlet_wascc.claims import ActorClaims, ClaimsError, sign_actor, verify_actor
from wasmlet_wascc.keys import KeyPair, Role

__all__ = ["ActorClaims", "ClaimsError", "KeyPair", "Role", "sign_actor", "verify_actor"]
