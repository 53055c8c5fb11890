"""The worker's aggregate cache: what it remembers as absent is forgotten when the aggregate turns up."""

from __future__ import annotations

from services.runtime.unit_of_work import AggregateCache
from tests.support.toy import TALLY_ID, Tally


def test_an_aggregate_a_commit_found_written_by_another_is_no_longer_known_missing() -> None:
    """Two instances: one creates a contact index the other's cache noted as absent. Its commit is refused as
    stale; if the note stayed, every redo would create the index again and be refused again, 50 times, and
    the worker would stop."""
    cache = AggregateCache((Tally,))
    cache.missing(TALLY_ID, Tally)
    assert cache.known_missing(TALLY_ID, Tally)
    cache.forget(TALLY_ID)
    assert not cache.known_missing(TALLY_ID, Tally)


def test_a_kept_aggregate_is_no_longer_known_missing() -> None:
    cache = AggregateCache((Tally,))
    cache.missing(TALLY_ID, Tally)
    tally = Tally()
    tally.collect_events()  # as stored
    cache.keep([tally])
    assert cache.get(TALLY_ID) is tally and not cache.known_missing(TALLY_ID, Tally)
