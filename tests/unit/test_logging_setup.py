"""One shape for every log line of a process: our own (structlog) and the standard library's (aiohttp, asyncpg)."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import structlog

from services.logging_setup import configure_logging
from services.settings import Settings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(Settings.from_env({"LEVEE_SERVICE": "api"}), stream=out)
    root = logging.getLogger()
    level = root.level
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = []
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_our_lines_and_the_standard_librarys_are_json_of_one_shape(stream: io.StringIO) -> None:
    structlog.get_logger("services.api.app").info("request", route="complaints.create", status=201)
    logging.getLogger("aiohttp.server").warning("Error handling request from %s", "127.0.0.1")
    ours, theirs = lines(stream)
    assert ours["event"] == "request" and ours["route"] == "complaints.create" and ours["status"] == 201
    assert theirs["event"] == "Error handling request from 127.0.0.1"
    assert (ours["logger"], theirs["logger"]) == ("services.api.app", "aiohttp.server")
    assert (ours["level"], theirs["level"]) == ("info", "warning")
    for line in (ours, theirs):
        assert line.keys() >= {"event", "level", "logger", "timestamp", "service"}
        assert line["service"] == "api"


def test_below_the_level_nothing_is_written(stream: io.StringIO) -> None:
    structlog.get_logger("services.api.app").debug("noise")
    logging.getLogger("asyncpg").debug("noise")
    assert stream.getvalue() == ""


def test_a_failure_is_logged_with_its_traceback_but_no_local_values(stream: io.StringIO) -> None:
    secret = "+852 9123 4567"  # a caller's phone in a local variable of the failing frame
    try:
        raise RuntimeError(f"handler failed ({len(secret)} digits)")
    except RuntimeError:
        structlog.get_logger("services.triage").exception("handler_failed")
    (line,) = lines(stream)
    assert line["level"] == "error" and line["event"] == "handler_failed"
    assert "RuntimeError" in json.dumps(line["exception"])
    assert "9123" not in stream.getvalue()


def test_lines_from_many_threads_never_interleave(stream: io.StringIO) -> None:
    ours = structlog.get_logger("services.worker")
    theirs = logging.getLogger("asyncio")

    def write(n: int) -> None:
        for i in range(200):
            ours.info("batch", worker=n, i=i, padding="x" * 300)
            theirs.warning("slow callback %d/%d %s", n, i, "y" * 300)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lines(stream)) == 4 * 200 * 2  # every line parses on its own


class GoneReader(io.StringIO):
    """stderr whose reader went away (`levee up | head`, a closed container log pipe)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_line_that_cannot_be_written_is_dropped_and_the_work_goes_on(log_format: str) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging(Settings.from_env({"LEVEE_LOG_FORMAT": log_format}), stream=GoneReader())
        structlog.get_logger("services.dispatch.handlers").info("complaint_dispatched", department="water")
        structlog.get_logger("services.runtime.worker").error("event_dead_lettered", seq=7)
        logging.getLogger("aiohttp.server").warning("from the library")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = []
        root.setLevel(level)


def test_console_tracebacks_show_no_local_values() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging(Settings.from_env({"LEVEE_LOG_FORMAT": "console"}), stream=out)
        secret = f"+852 {9000 + 123} 4567"  # a caller's phone in a local (not in this source, which is shown)
        try:
            raise RuntimeError(f"handler failed ({len(secret)} digits)")
        except RuntimeError:
            structlog.get_logger("services.triage").exception("handler_failed")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = []
        root.setLevel(level)
    assert "RuntimeError" in out.getvalue() and "9123" not in out.getvalue()
