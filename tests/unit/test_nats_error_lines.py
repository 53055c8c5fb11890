"""While NATS is away the client reports a failed reconnect every 0.5 s: one log line each buried the runbook's
lines (7,200 an hour per process, found by a review). ErrorLines keeps one line per kind per 30 s."""

from __future__ import annotations

from events.store.connection import ErrorLines


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_hour_of_reconnect_failures_is_a_line_each_half_minute_saying_how_many_were_not_logged() -> None:
    clock = Clock()
    lines = ErrorLines(clock)
    logged = []
    for _ in range(7200):  # an hour, a try every 0.5 s
        if lines.worth_a_line("nats: timeout"):
            logged.append(lines.since())
        clock.now += 0.5
    assert len(logged) == 120
    assert logged[0] == {} and all(extra == {"not_logged": 59} for extra in logged[1:])


def test_a_new_error_is_logged_at_once_and_the_next_outage_starts_afresh() -> None:
    clock = Clock()
    lines = ErrorLines(clock)
    assert lines.worth_a_line("connection refused")
    assert not lines.worth_a_line("connection refused")
    assert lines.worth_a_line("authorization violation")  # another kind: news
    assert not lines.worth_a_line("authorization violation")
    assert lines.over() == {"not_logged": 2}  # reconnected: the line says what was not logged
    assert lines.worth_a_line("authorization violation")  # the next outage's first error is logged


def test_a_clusters_nodes_failing_in_turn_are_one_kind_of_error() -> None:
    """Found by a review: with a cluster's URL the reconnect failures name each node in turn, so compared whole no
    two in a row were alike, and every one was logged (40 lines in 10 s with two nodes down)."""
    clock = Clock()
    lines = ErrorLines(clock)
    logged = 0
    for n in range(120):  # a minute, a try every 0.5 s, three nodes in turn
        port = 4222 + n % 3
        if lines.worth_a_line(f"[Errno 111] Connect call failed ('10.0.0.{n % 3}', {port})"):
            logged += 1
        clock.now += 0.5
    assert logged == 2  # at once, then 30 s later
