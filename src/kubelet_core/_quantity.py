"""Kubernetes resource quantities (``500m``, ``64Mi``, ``1e3``) as exact fractions.

The downward API divides a quantity by a divisor and rounds *up*, as kubelet
does; doing that with floats gets ``ceil(0.1 / 0.001)`` wrong, so quantities
are parsed into :class:`fractions.Fraction` here.  This is the one quantity
parser of the project: env and volume code, the providers' limits and the
settings all use it.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([a-zA-Z]*))$")


def parse_quantity(text: str | int | float) -> Fraction:
    """The value of a quantity; ValueError if it is not one."""
    if isinstance(text, int | float):
        return Fraction(text)
    match = _QUANTITY.match(text.strip())
    if match is None or (match.group(3) or "") not in _SUFFIXES:
        raise ValueError(f"quantities must match the regular expression: {text!r} does not")
    number = Fraction(match.group(1))
    if match.group(2):
        return number * Fraction(10) ** int(match.group(2)[1:])
    return number * _SUFFIXES[match.group(3) or ""]


def ceil_div(value: Fraction, divisor: Fraction) -> int:
    """``ceil(value / divisor)``, kubelet's rounding for downward-API resource values."""
    if divisor <= 0:
        raise ValueError("divisor must be positive")
    return math.ceil(value / divisor)


def quantity_bytes(text: str | int | float) -> int:
    """A memory or storage quantity in whole bytes, rounded up (``"64Mi"`` -> 67108864)."""
    value = parse_quantity(text)
    if value < 0:
        raise ValueError(f"a byte quantity cannot be negative: {text!r}")
    return math.ceil(value)


def quantity_cores(text: str | int | float) -> float:
    """A CPU quantity in cores (``"500m"`` -> 0.5)."""
    return float(parse_quantity(text))
