"""Kubernetes byte quantities (``64Mi``, ``1G``, ``512k``) to integers, for memory caps."""

from __future__ import annotations

import re

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kMGT]i?|)\s*$")


def parse_bytes(text: str) -> int:
    """``"64Mi"`` -> 67108864; raises ``ValueError`` for anything else."""
    match = _QUANTITY.match(str(text))
    if match is None or match.group(2) == "ki":
        raise ValueError(f"not a byte quantity: {text!r}")
    return int(float(match.group(1)) * _SUFFIXES[match.group(2)])
