"""JSON encoding for the control plane: orjson when installed, the stdlib otherwise.

Encoding dominates the cost of serving lists and fanning out watch events, so every
object is encoded once (compact, UTF-8 bytes) and the bytes are reused; orjson makes
that several times cheaper than ``json`` but is optional so the package never breaks
without it.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None  # type: ignore[assignment]


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON bytes."""
    if _orjson is not None:
        return _orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes or text."""
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)
