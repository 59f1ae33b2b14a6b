"""Kubernetes resource quantities as the WASI provider needs them.

Only two are used: ``limits.memory`` (bytes, for the store's memory cap) and
``limits.cpu`` (cores, for the throttle).  The full quantity grammar is
accepted for these: binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal (k, M, G, T, P,
E, and m for milli) suffixes and exponents (``1e6``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?$")


def parse_quantity(text: str) -> Decimal:
    """``"64Mi"`` -> 67108864, ``"500m"`` -> 0.5; raises ValueError if malformed."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a resource quantity")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a resource quantity") from None
    return number * _SUFFIX[match.group(2) or ""]


def memory_bytes(text: str) -> int:
    return int(parse_quantity(text).to_integral_value(rounding="ROUND_CEILING"))


def cpu_cores(text: str) -> float:
    return float(parse_quantity(text))
