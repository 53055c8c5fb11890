"""CPU time of one log line as the services write it: the API writes one per request.

    .venv/bin/python bench/log_line.py [--lines 20000]

Configures logging as `levee serve` does (JSON, info) onto /dev/null and prints the CPU time per line of a
request line (ours, through structlog) and of a standard library record (as aiohttp or asyncpg write).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import structlog

from services.logging_setup import configure_logging
from services.settings import Settings


def per_line(write: object, lines: int) -> float:
    assert callable(write)
    started = time.process_time()
    for i in range(lines):
        write(i)
    return (time.process_time() - started) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:
        configure_logging(
            Settings.from_env({"LEVEE_SERVICE": "api", "LEVEE_LOG_FORMAT": "json"}), stream=sink
        )
        ours = structlog.get_logger("services.api.app")
        theirs = logging.getLogger("aiohttp.server")

        def request_line(i: int) -> None:
            ours.info("request", request_id="6f1c0d5e2b7a4c1e9d3f", method="POST", route="complaints.create",
                      role="operator", status=201, latency_ms=12.3, complaint_id=f"9d1e0000-{i:04}",
                      channel="hotline", replay=False)  # fmt: skip

        def library_line(i: int) -> None:
            theirs.warning("Error handling request from %s (%d)", "127.0.0.1", i)

        for name, write in (
            ("request line (structlog)", request_line),
            ("library record (logging)", library_line),
        ):
            per_line(write, args.lines // 10)  # warm up
            best = min(per_line(write, args.lines) for _ in range(3))
            sys.stdout.write(f"{name}: {best:.1f} µs CPU per line (best of 3 x {args.lines:,})\n")


if __name__ == "__main__":
    main()
