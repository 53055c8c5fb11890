"""A term is searched only when a literal it needs is in the text: that shortcut must never hide a match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from services.drill.scenario import load_scenario, submissions
from services.triage.lexicon import Term, Text, compile_terms, needed_literals, normalise
from services.triage.rules import load_rules

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize(
    ("pattern", "needed"),
    [
        ("积水", ("积水",)),
        ("积水|水浸", ("积水", "水浸")),
        ("(?:gas|smoke) leak", (" leak",)),  # the longest plain run
        ("水.{0,3}深", ("水",)),
        ("漏水?", ("漏",)),  # an optional character is not needed
        ("(车|公交|巴士).{0,6}(被困|困在)", ("被困", "困在")),  # the group with the longer literals
        ("!{3,}", ("!",)),  # repeated at least once
        ("(?:ab)*c", ("c",)),
        ("(?<!没)有人", ("有人",)),  # a look-behind is not text
        ("[0-9]+", None),
        ("(a|[0-9])", None),  # one alternative needs nothing
        ("(?i)fire", None),  # case-insensitive: a substring test would miss "FIRE"
        ("(unclosed", None),
    ],
)
def test_needed_literals_are_in_every_match(pattern: str, needed: tuple[str, ...] | None) -> None:
    assert needed_literals(pattern) == needed


def _terms(value: Any) -> Iterator[Term]:
    if isinstance(value, Term):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _terms(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _terms(item)
    elif is_dataclass(value):
        for f in fields(value):
            yield from _terms(getattr(value, f.name))


def _texts() -> list[str]:
    labelled = [
        json.loads(line)["description"]
        for path in sorted(DATA.glob("triage_*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    drill = [
        s.body["description"] for s in submissions(load_scenario("typhoon"), seed=3, rate=200, duration=5)
    ]
    return [normalise(text) for text in labelled + drill]


def test_no_term_of_the_shipped_rules_is_skipped_where_it_matches() -> None:
    terms = list(_terms(load_rules()))
    assert len(terms) > 1000
    assert sum(term.gate is not None for term in terms) > 0.95 * len(terms)
    texts = _texts()
    skipped = [
        (term.source, text)
        for term in terms
        for text in texts
        if term.pattern.search(text) and not term.may_occur_in(text)
    ]
    assert skipped == []
    # and the shortcut is in use: most terms are in no given text
    assert sum(term.may_occur_in(texts[0]) for term in terms) < len(terms) / 4


def test_a_group_finds_what_each_of_its_terms_finds() -> None:
    group = compile_terms(["积水", "水.{0,3}深", "[0-9]+ ?cm", "~!{3,}", "leak"])
    text = Text(normalise("楼下积水好深，已经 40 cm 了!!! Gas leak too."))
    found = [(hit.term, hit.text) for hit in text.find(group)]
    assert found == [("积水", "积水"), ("水.{0,3}深", "水好深"), ("[0-9]+ ?cm", "40 cm"), ("~!{3,}", "!!!"),
                     ("leak", "leak")]  # fmt: skip
    assert Text(normalise("no leaks here")).find(group) == []  # "leak" is a word: "leaks" is not it
