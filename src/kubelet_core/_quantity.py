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


_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL = ("", "k", "M", "G", "T", "P", "E")
_SMALL = (("m", 1000), ("u", 10**6), ("n", 10**9))


def is_binary(text: str | int | float) -> bool:
    """Whether a quantity was written with a binary suffix (``Ki`` ... ``Ei``)."""
    return isinstance(text, str) and text.strip().endswith("i")


def format_quantity(value: Fraction, *, binary: bool = False) -> str:
    """A quantity in canonical form, as Go's ``Quantity.String()`` writes it.

    The largest suffix that keeps the number whole: ``2Gi``, ``1536Mi``, ``2k``,
    ``1500``, ``500m``; binary only for whole numbers (as Go falls back to decimal).
    """
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value.denominator == 1:
        number = value.numerator
        base, suffixes = (1024, _BINARY) if binary else (1000, _DECIMAL)
        index = 0
        while number and number % base == 0 and index < len(suffixes) - 1:
            number //= base
            index += 1
        return f"{sign}{number}{suffixes[index]}"
    for suffix, scale in _SMALL:
        scaled = value * scale
        if scaled.denominator == 1:
            return f"{sign}{scaled.numerator}{suffix}"
    return f"{sign}{math.ceil(value * 10**9)}n"


def canonical_quantity(text: str | int | float) -> str:
    """``text`` as the API server prints it back (``2048Mi`` -> ``2Gi``)."""
    return format_quantity(parse_quantity(text), binary=is_binary(text))
