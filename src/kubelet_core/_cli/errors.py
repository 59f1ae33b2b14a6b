"""Errors the CLI prints as one clear line instead of a traceback."""


class UserError(Exception):
    """A mistake in the command line or configuration: printed, not traced."""
