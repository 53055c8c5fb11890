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
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.getLogger().handlers[:] = []


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
