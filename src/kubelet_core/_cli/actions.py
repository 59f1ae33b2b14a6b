"""Commands with sub-actions (``wasmlet modules ls``) and the flags every action shares.

A shared flag is accepted before the action and after it, so
``wasmlet modules --data-dir D ls`` and ``wasmlet modules ls --data-dir D`` are
the same command.  Given in both places, the one after the action wins: argparse
reads left to right and the action's copy of the flag is set last.

The copies on the actions default to ``argparse.SUPPRESS``: an action whose
copy was not given leaves the value parsed before it (or the command's default)
alone.  Shared flags are optional ones (a required flag would still have to
come before the action).  Plugins adding commands through the
``kubelet_core.cli`` entry points can use :class:`ActionParsers` too::

    def register(commands):
        parser = commands.add_parser("things", help="...")
        actions = ActionParsers(parser, lambda flags: flags.add_argument("--data-dir"))
        ls = actions.add_parser("ls", help="list them")
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

#: Adds the shared flags to a parser (called twice: for the command and for the actions' copy).
AddFlags = Callable[["argparse._ActionsContainer"], object]

GROUP = "options of every action (also accepted before the action)"
NOTE = (
    "{flags} may also come after ACTION ({prog} ACTION {example} ...); "
    "given before and after it, the one after ACTION wins."
)


class ActionParsers:
    """The sub-actions of ``parser``, each accepting the command's shared flags too."""

    def __init__(
        self,
        parser: argparse.ArgumentParser,
        add_flags: AddFlags,
        *,
        dest: str = "action",
        metavar: str = "ACTION",
    ) -> None:
        add_flags(parser)
        self._shared = argparse.ArgumentParser(add_help=False)
        add_flags(self._shared.add_argument_group(GROUP))
        flags = []
        for action in self._shared._actions:
            action.default = argparse.SUPPRESS  # not given after the action: keep what was
            flags.append(max(action.option_strings, key=len))
        note = NOTE.format(flags=", ".join(flags), prog=parser.prog, example=flags[0])
        parser.epilog = f"{parser.epilog}\n\n{note}" if parser.epilog else note
        self._actions = parser.add_subparsers(dest=dest, metavar=metavar, required=True)

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """An action (``add_subparsers().add_parser``) that also takes the shared flags."""
        parents = [*kwargs.pop("parents", ()), self._shared]
        parser: argparse.ArgumentParser = self._actions.add_parser(name, parents=parents, **kwargs)
        return parser
