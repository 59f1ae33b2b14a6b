"""Names of a package that load on first use (PEP 562), so importing it stays cheap.

Why.  A WASI module host is forked from a process that imports only what a
host runs: the log writer, the exit status, the safe path helpers.  Every
module that process imports without need is memory each fork must copy the
page tables of (a fork here costs ~1 µs per 20 resident pages) and pages a
host may touch.  A package whose ``__init__`` imports its heavy parts (the
API client's aiohttp, the registry client) would pull them into every host
that needs one light submodule, since Python runs a package's ``__init__``
before any of its submodules.  So such a package lists its heavy names here
and imports them when one is first asked for; type checkers see real imports
under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping


class LazyExports:
    """``name -> module`` for one package: its ``__getattr__`` and ``__dir__``."""

    def __init__(self, package: str, exports: Mapping[str, str]) -> None:
        self.package = package
        self.exports = dict(exports)

    def load(self, name: str) -> object:
        """The value of ``name``, imported now and kept in the package (later reads are plain)."""
        module_name = self.exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[self.package], name, value)
        return value

    def names(self, eager: Mapping[str, object]) -> list[str]:
        """What ``dir()`` shows: the names loaded already and those that would load."""
        return sorted({*eager, *self.exports})
