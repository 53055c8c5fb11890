"""Finding lexicon terms in a complaint's text, clause by clause, with negation.

Text is NFKC-normalised and lower-cased first, so full-width punctuation and capitals do not matter.
A clause ends at punctuation or at "but"/"但是": negation and resolution only reach within a clause
(resolution also reaches back one clause: "yesterday it smelled of gas, now it is gone").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_CLAUSE_END = re.compile(r"[。！？!?；;，,、\n]+|但是|可是|不过|(?<![a-z])(?:but|however)(?![a-z])")
_WORD_EDGE_LEFT = "(?<![a-z0-9])"
_WORD_EDGE_RIGHT = "(?![a-z0-9])"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def compile_term(term: str) -> re.Pattern[str]:
    """An ASCII term must sit at word edges ("fire" is not "fired"); "~" opts out; Chinese matches anywhere."""
    term = normalise(term)
    if term.startswith("~"):
        return re.compile(term[1:])
    if term.isascii():
        return re.compile(f"{_WORD_EDGE_LEFT}(?:{term}){_WORD_EDGE_RIGHT}")
    return re.compile(term)


@dataclass(frozen=True)
class Term:
    source: str
    pattern: re.Pattern[str]


def compile_terms(terms: list[str]) -> tuple[Term, ...]:
    return tuple(Term(term, compile_term(term)) for term in terms)


# One alternation of a group's terms: a single pass says whether any term of the group can match at all.
# Most groups match nothing in a given complaint, and then the exact per-term search is skipped.
_GROUPS: dict[int, tuple[tuple[Term, ...], re.Pattern[str]]] = {}


def _any_of(terms: tuple[Term, ...]) -> re.Pattern[str]:
    found = _GROUPS.get(id(terms))
    if found is None or found[0] is not terms:
        found = (terms, re.compile("|".join(f"(?:{_without_edges(t.source)})" for t in terms) or "(?!)"))
        _GROUPS[id(terms)] = found
    return found[1]


def _without_edges(term: str) -> str:
    """A term's pattern without its word edges: looser, so only a first pass. A pattern that starts with a
    look-behind makes `re` try every alternative at every position; without it `re` skips ahead to the
    characters a term can start with (twice as fast over the labelled cases)."""
    term = normalise(term)
    return term[1:] if term.startswith("~") else term


@dataclass(frozen=True)
class Hit:
    term: str  # the lexicon entry that matched
    text: str  # what it matched in the complaint
    start: int
    end: int
    clause: int


class Text:
    """A normalised complaint text and its clauses; lexicons are searched through it.

    `Text.of(raw)` shares one instance per text, so its remembered searches serve every scoring of the
    same complaint (intake, grouping, re-assessment) instead of being redone.
    """

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def of(raw: str) -> Text:
        return Text(raw)

    def __init__(self, raw: str) -> None:
        self.value = normalise(raw)
        bounds = [0]
        for match in _CLAUSE_END.finditer(self.value):
            bounds.append(match.start())
            bounds.append(match.end())
        bounds.append(len(self.value))
        self.clauses = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        self._found: dict[int, list[Hit]] = {}
        self._derived: dict[tuple[str, int], tuple[object, object]] = {}

    def clause_of(self, position: int) -> int:
        for index, (start, end) in enumerate(self.clauses):
            if start <= position < end or (position == end and index == len(self.clauses) - 1):
                return index
        return len(self.clauses) - 1

    def clause_text(self, index: int) -> str:
        if not 0 <= index < len(self.clauses):
            return ""
        start, end = self.clauses[index]
        return self.value[start:end]

    def find(self, terms: tuple[Term, ...]) -> list[Hit]:
        """Every match of every term (first match per term and clause), in text order."""
        key = id(terms)
        known = self._found.get(key)
        if known is not None:
            return list(known)
        hits: dict[tuple[str, int], Hit] = {}
        for term in terms if _any_of(terms).search(self.value) else ():
            for match in term.pattern.finditer(self.value):
                if not match.group(0).strip():
                    continue
                clause = self.clause_of(match.start())
                hits.setdefault(
                    (term.source, clause),
                    Hit(term.source, match.group(0), match.start(), match.end(), clause),
                )
        found = sorted(hits.values(), key=lambda hit: hit.start)
        self._found[key] = found
        return list(found)

    def any(self, terms: tuple[Term, ...]) -> list[str]:
        """The matched text of every term found anywhere (one per term)."""
        key = -id(terms)  # negative: never the key of a `find` of the same group
        known = self._found.get(key)
        if known is not None:
            return [hit.text for hit in known]
        found: list[str] = []
        if _any_of(terms).search(self.value):
            for term in terms:
                match = term.pattern.search(self.value)
                if match and match.group(0).strip():
                    found.append(match.group(0))
        self._found[key] = [Hit(text, text, 0, 0, 0) for text in found]
        return found

    def remember(self, what: str, owner: object, compute: Callable[[], T]) -> T:
        """``compute()`` once per text for ``what`` read with ``owner`` (a rules object, a term group): the
        scorer asks for the same live hits once per danger kind and per category. Callers must not mutate it."""
        key = (what, id(owner))
        known = self._derived.get(key)
        if known is not None and known[0] is owner:
            return known[1]  # type: ignore[return-value]
        value = compute()
        self._derived[key] = (owner, value)
        return value

    def preceding(self, hit: Hit) -> str:
        """The clause's text before the hit: where a negation of it would be."""
        start, _ = self.clauses[hit.clause]
        return self.value[start : hit.start]
