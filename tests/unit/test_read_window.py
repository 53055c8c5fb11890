"""The read window: what one reader of a process read, answered to another as the server would."""

from __future__ import annotations

import pytest

from events.store.read_window import ReadWindow
from events.store.records import StoredMessage

EV = "levee.ev."


def stream(first: int, last: int, *, every_third_a_record: bool = True) -> list[StoredMessage]:
    """Messages first..last; every third one a tracking record, not an event."""

    def subject(seq: int) -> str:
        return f"levee.track.t{seq}" if every_third_a_record and seq % 3 == 0 else f"{EV}a{seq}"

    return [StoredMessage(seq, subject(seq), b"", {}) for seq in range(first, last + 1)]


def seqs(messages: list[StoredMessage] | None) -> list[int] | None:
    return None if messages is None else [m.seq for m in messages]


def test_an_empty_window_answers_nothing() -> None:
    assert ReadWindow(100).take(0, 10) is None


def test_it_answers_a_read_inside_what_it_holds_as_the_server_would() -> None:
    window = ReadWindow(100)
    window.record(10, stream(11, 20))
    assert seqs(window.take(10, 5)) == [11, 12, 13, 14, 15]
    assert seqs(window.take(14, 100)) == [15, 16, 17, 18, 19, 20]  # to its end: the caller reads on
    assert seqs(window.take(11, 3, EV)) == [13, 14, 16]  # events only: 12 and 15 are tracking records


@pytest.mark.parametrize(
    ("after", "limit", "prefix", "expected"),
    [
        (10, 4, "", [11, 12, 13, 14]),
        (11, 3, EV, [13, 14, 16]),  # 12 and 15 are tracking records
        (17, 10, EV, [19, 20]),
        (19, 10, "levee.track.", []),  # none after 19 up to the window's end (20): read on from there
        (9, 10, "", None),  # 10 was not read
        (20, 10, "", None),  # the window's end: the server's to answer
    ],
)
def test_take(after: int, limit: int, prefix: str, expected: list[int] | None) -> None:
    window = ReadWindow(100)
    window.record(10, stream(11, 20))
    assert seqs(window.take(after, limit, prefix)) == expected


def test_a_read_joined_to_its_end_extends_it_and_a_read_ahead_of_it_starts_it_over() -> None:
    window = ReadWindow(100)
    window.record(10, stream(11, 20))
    window.record(15, stream(16, 25))  # overlaps: only 21-25 are new
    assert (window.low, window.high, len(window)) == (10, 25, 15)
    assert seqs(window.take(19, 100)) == list(range(20, 26))
    window.record(40, stream(41, 45))  # 26-40 were never read here: the window cannot vouch for them
    assert (window.low, window.high) == (40, 45)
    assert window.take(30, 10) is None
    assert seqs(window.take(40, 10)) == [41, 42, 43, 44, 45]


def test_a_reader_behind_the_window_leaves_it_to_the_reader_ahead() -> None:
    window = ReadWindow(100)
    window.record(100, stream(101, 110))
    window.record(0, stream(1, 50))  # a watcher catching up from the start
    assert (window.low, window.high) == (100, 110)
    window.record(102, stream(103, 105))  # nothing new
    assert (window.low, window.high, len(window)) == (100, 110, 10)


def test_it_keeps_only_the_newest_messages_it_has_room_for() -> None:
    window = ReadWindow(8)
    window.record(0, stream(1, 5))
    window.record(5, stream(6, 12))
    assert (window.low, window.high, len(window)) == (4, 12, 8)
    assert window.take(3, 10) is None
    assert seqs(window.take(4, 2)) == [5, 6]
    window.record(12, stream(13, 40))  # more than it holds in one read
    assert (window.low, window.high, len(window)) == (32, 40, 8)


def test_gaps_in_positions_are_kept_as_read() -> None:
    """A deleted message leaves a hole in the positions; the window answers what the read answered."""
    window = ReadWindow(100)
    read = [m for m in stream(1, 10, every_third_a_record=False) if m.seq not in (4, 5)]
    window.record(0, read)
    assert seqs(window.take(3, 2)) == [6, 7]


def test_a_window_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ReadWindow(0)


def sized(first: int, last: int, size: int) -> list[StoredMessage]:
    return [StoredMessage(seq, f"{EV}a{seq}", b"x" * size, {}) for seq in range(first, last + 1)]


def test_it_keeps_no_more_payload_than_its_byte_limit_but_always_the_newest_message() -> None:
    window = ReadWindow(1000, max_bytes=1000)
    window.record(0, sized(1, 8, 100))  # 800 bytes
    assert (window.low, window.high, len(window)) == (0, 8, 8)
    window.record(8, sized(9, 12, 100))  # 1,200 bytes: the two oldest go
    assert (window.low, window.high, len(window)) == (2, 12, 10)
    window.record(12, sized(13, 13, 5000))  # one message bigger than the limit: it alone stays
    assert (window.low, window.high, len(window)) == (12, 13, 1)
    assert seqs(window.take(12, 10)) == [13]
    window.record(13, sized(14, 16, 300))  # 900 bytes after the big one, which goes
    assert (window.low, window.high, len(window)) == (13, 16, 3)
