"""What `levee up` hands its children and prints: a /metrics port per process, commands that work as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

from services.cli import _drill, _parser
from services.settings import Settings
from services.up.launcher import metrics_ports, next_commands

SERVICES = ["api", "triage", "dispatch", "notices", "projector"]


def test_every_process_without_http_gets_its_own_free_metrics_port_by_default() -> None:
    ports = metrics_ports(Settings(), SERVICES)
    assert ports["api"] == 0  # the API serves /metrics on its own HTTP port
    others = [ports[name] for name in SERVICES[1:]]
    assert all(others) and len(set(others)) == len(others)


def test_a_configured_metrics_port_is_the_first_of_consecutive_ones_for_processes_without_http() -> None:
    """The API's /metrics is on its own HTTP port, with the stream's gauges: a second one on the configured port
    had none of them, and the banner pointed there (found by a review of what operators see)."""
    assert metrics_ports(Settings(metrics_port=9100), SERVICES) == {
        "api": 0, "triage": 9100, "dispatch": 9101, "notices": 9102, "projector": 9103,
    }  # fmt: skip


def test_the_printed_drill_parses_as_a_staffed_drill_and_names_a_data_dir_that_is_not_the_default() -> None:
    _, drill = next_commands(Settings(data_dir=Settings().data_dir.resolve()))
    args = _parser().parse_args(shlex.split(drill)[1:])
    assert args.command is _drill and args.staff and not args.public and args.operator_token is None
    _, elsewhere = next_commands(Settings(data_dir=Path("/tmp/levee data")))
    assert shlex.split(elsewhere)[0] == "LEVEE_DATA_DIR=/tmp/levee data"
