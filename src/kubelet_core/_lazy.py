"""Names of a package that load on first use (PEP 562), so importing it stays cheap.

Why.  A WASI module host is forked from a process that imports only what a
host runs: the log writer, the exit status, the safe path helpers.  Every
module that process imports without need is memory each fork must copy the
page tables of and pages a host may touch.  A package whose ``__init__``
imports its heavy parts (the API client's aiohttp, the registry client)
would pull them into every host that needs one light submodule, since
Python runs a package's ``__init__`` before any of its submodules.  So such
a package names its heavy parts here and they are imported when one of
their names is first asked for; type checkers see real imports under
``TYPE_CHECKING``.  ``import kubelet_core`` stays cheap the same way.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    package: str, modules: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``{module: its names}``.

    Use: ``__getattr__, __dir__ = lazy_exports(__name__, {...})``.  A name is
    imported on first access and kept in the package, so later reads are plain.
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
