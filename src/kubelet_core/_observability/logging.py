"""structlog set-up for the agent: human-readable on a terminal, JSON lines in a cluster.

Everything logs through ``structlog.get_logger(__name__)`` with key/value
context (``node=``, ``pod=``), so the JSON form is queryable.  The standard
library's ``logging`` (aiohttp, kubernetes_asyncio) is routed to the same
level and stream so nothing prints in a different format.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["console", "json"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(format: LogFormat = "console", level: str | int = "info") -> None:
    """Configure structlog (and stdlib logging) once for the process."""
    numeric = level if isinstance(level, int) else _LEVELS.get(level.lower(), logging.INFO)
    renderer: structlog.typing.Processor
    if format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
