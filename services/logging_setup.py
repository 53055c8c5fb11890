"""structlog, configured once per process by the entry point.

Logs go to stderr: JSON lines when it is not a terminal (a collector reads them), a readable console
format otherwise. Records from the standard library (aiohttp, asyncio, asyncpg) pass through the same
processors, so every line of a process has one shape.

Our own lines go straight from structlog to the stream, not through the standard library's `logging`
(its records, handlers and locks cost 25 µs a line against 12 µs: the API writes one line per request).
Both paths write whole lines under the one lock structlog keeps for the stream, so lines never interleave.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from services.settings import Settings


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if settings.log_format == "console":
        # No locals in tracebacks here either (rich shows them by default).
        formatter = (
            structlog.dev.RichTracebackFormatter(show_locals=False)
            if structlog.dev.rich is not None
            else structlog.dev.plain_traceback
        )
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=formatter)
    else:
        renderer = structlog.processors.JSONRenderer()
        # No locals in tracebacks: they can hold secrets and citizens' contact details.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), renderer],
        logger_factory=_NamedWriterFactory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = _LineHandler(_NamedWriter(stream, ""))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.contextvars.bind_contextvars(service=settings.service_name)


class _NamedWriter(structlog.WriteLogger):
    """A line writer that knows the name it was asked for, as `structlog.stdlib.add_logger_name` reads.

    A line that cannot be written (stderr's reader gone, a full disk) is dropped: a log line is lost, never
    the work that logged it (a handler's effect, a stored complaint's 201)."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name

    def msg(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # ValueError: the stream was closed
            super().msg(message)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = failure = msg


class _NamedWriterFactory:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, *args: Any) -> _NamedWriter:
        return _NamedWriter(self.stream, str(args[0]) if args else "root")


class _LineHandler(logging.Handler):
    """Standard library records, formatted by structlog's processors, written like our own lines."""

    def __init__(self, writer: _NamedWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.msg(self.format(record))
        except Exception:
            self.handleError(record)


def write_banner(text: str, *, stream: TextIO | None = None) -> None:
    """A few lines for a person at a terminal, through a structlog logger that writes text as it is."""
    structlog.PrintLogger(stream or sys.stderr).msg(text)
