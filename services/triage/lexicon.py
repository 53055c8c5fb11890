"""Finding lexicon terms in a complaint's text, clause by clause, with negation.

Text is NFKC-normalised, lower-cased and written in simplified Chinese first, so full-width punctuation,
capitals and traditional characters (電梯, 煤氣, 困𨋢) do not matter: one simplified lexicon reads them all.
A clause ends at punctuation or at "but"/"但是": negation and resolution only reach within a clause
(resolution also reaches back one clause: "yesterday it smelled of gas, now it is gone").
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from re import _constants as sre  # type: ignore[attr-defined]  # the stdlib's parse of a pattern: see needed_literals
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, TypeVar

import ahocorasick

from services.runtime.chinese import simplified

T = TypeVar("T")

_CLAUSE_END = re.compile(r"[。！？!?；;，,、\n]+|但是|可是|不过|(?<![a-z])(?:but|however)(?![a-z])")
# Inside a clause, a pause: a space beside a Chinese character (text messages put a space where a comma
# goes: "我没事 隔壁阿婆晕倒了") or 但 ("我没事但邻居家起火了"). Only "we are safe" is kept within one.
_PAUSE = re.compile(r"(?<=[\u3400-\u9fff])\s|\s(?=[\u3400-\u9fff])|(?<!不)但")
_WORD_EDGE_LEFT = "(?<![a-z0-9])"
_WORD_EDGE_RIGHT = "(?![a-z0-9])"


def normalise(text: str) -> str:
    """NFKC, lower case, and traditional Chinese as simplified (lexicon terms go through the same)."""
    return simplified(unicodedata.normalize("NFKC", text).lower())


def compile_term(term: str) -> re.Pattern[str]:
    """An ASCII term must sit at word edges ("fire" is not "fired"); "~" opts out; Chinese matches anywhere."""
    term = normalise(term)
    if term.startswith("~"):
        return re.compile(term[1:])
    if term.isascii():
        return re.compile(f"{_WORD_EDGE_LEFT}(?:{term}){_WORD_EDGE_RIGHT}")
    return re.compile(term)


def needed_literals(pattern: str) -> tuple[str, ...] | None:
    """Strings of which every match of ``pattern`` contains at least one, or None when that cannot be said.

    "积水|水浸" gives ("积水", "水浸"), "水.{0,3}深" gives ("水",) and "[0-9]+" gives None. Read from the
    pattern as `re` itself parses it, so a quantifier or a group is never mistaken for text. `str.__contains__`
    on these is many times faster than a regex scan, and most terms are not in a given text.
    """
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    return _needed(list(parsed))


def _needed(items: list[tuple[Any, Any]]) -> tuple[str, ...] | None:
    """For a sequence every item is in every match, so each item that needs literals gives a choice: the one
    whose shortest literal is longest (the rarest in text) wins, then the one with the fewest alternatives."""
    choices: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            choices.append(("".join(run),))
            run = []
        inner: tuple[str, ...] | None = None
        if op is sre.BRANCH:  # a|b: one of each alternative's
            alternatives = [_needed(list(alternative)) for alternative in arg[1]]
            if all(alternatives):
                inner = tuple(dict.fromkeys(w for needed in alternatives for w in needed or ()))
        elif op is sre.SUBPATTERN and not arg[1] and not arg[2]:  # (?:...) or (...), no flags of its own
            inner = _needed(list(arg[3]))
        elif op in _REPEATS and arg[0] >= 1:  # x+, x{2,}: at least once
            inner = _needed(list(arg[2]))
        if inner:
            choices.append(inner)
    if run:
        choices.append(("".join(run),))
    return min(choices, key=lambda c: (-min(map(len, c)), len(c)), default=None)


_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


@dataclass(frozen=True)
class Term:
    source: str
    pattern: re.Pattern[str]
    # At least one of these is in any text the term matches (None: unknown, always search).
    gate: tuple[str, ...] | None = field(default=None, compare=False)

    @staticmethod
    def of(source: str, pattern: re.Pattern[str], core: str) -> Term:
        """A term whose every match matches ``core`` too (its pattern without word edges)."""
        return Term(source, pattern, needed_literals(core))

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if self.may_occur_in(text) else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text) if self.may_occur_in(text) else iter(())

    def may_occur_in(self, text: str) -> bool:
        gate = self.gate
        return gate is None or any(literal in text for literal in gate)


def compile_terms(terms: list[str]) -> tuple[Term, ...]:
    """The terms compiled; a term `re` refuses, or one that cannot stand in an alternation with the others
    (flags for the whole pattern, "(?i)"), is refused here with a ValueError naming it: a deployment's rules
    file must fail at start, not at the first complaint."""
    compiled = []
    for term in terms:
        try:
            pattern = compile_term(term)
            re.compile(f"(?:{_without_edges(term)})|(?!)")  # as a group's first pass reads it
        except re.error as exc:
            raise ValueError(
                f"term {term!r} is not a pattern triage can use ({exc}); flags go in scoped form, "
                "(?i:...), and are not needed for case: text is lower-cased first"
            ) from None
        compiled.append(Term.of(term, pattern, _without_edges(term)))
    return tuple(compiled)


# A group's terms are searched only where they can match: a term with needed literals only when one of them is
# in the text, the others only when one alternation of them finds something. Whether a literal is in a text is
# answered for all of them at once, by one Aho-Corasick pass (pyahocorasick) over the text: `re` would try a
# long alternation at every position, and a substring test per literal costs 50 µs a text for a thousand.
_GROUPS: dict[int, tuple[tuple[Term, ...], _Group]] = {}
_GROUP_NUMBERS = itertools.count()


class _Literals:
    """Every needed literal of every group in use, in one automaton whose values say which terms need it."""

    def __init__(self) -> None:
        # (generation, automaton, owners), replaced whole: a reader takes one consistent state. owners: for
        # each literal, (group number, term index) of every term that needs it.
        self.state: tuple[int, Any, dict[str, tuple[tuple[int, int], ...]]] = (0, None, {})

    def add(self, group: int, owners: dict[str, list[int]]) -> None:
        generation, _, known = self.state
        merged = dict(known)
        for word, indices in owners.items():
            merged[word] = (*merged.get(word, ()), *((group, index) for index in indices))
        automaton = ahocorasick.Automaton()
        for word, owned in merged.items():
            automaton.add_word(word, owned)
        automaton.make_automaton()
        self.state = (generation + 1, automaton, merged)

    def found_in(self, text: str) -> tuple[int, dict[int, list[int]]]:
        """The generation asked and, by group, the indices of the terms whose literal is in ``text`` (sorted):
        an answer is good while the generation is."""
        generation, automaton, _ = self.state
        found: dict[int, set[int]] = {}
        if automaton is not None:
            for _, owned in automaton.iter(text):
                for group, index in owned:
                    found.setdefault(group, set()).add(index)
        return generation, {group: sorted(indices) for group, indices in found.items()}


_LITERALS = _Literals()


@dataclass(frozen=True)
class _Group:
    number: int  # its owners' key in the automaton
    ungated: tuple[int, ...]  # the terms with no needed literal
    loose: re.Pattern[str]  # one alternation of those, without word edges: a first pass

    def candidates(self, text: Text) -> list[int]:
        """Indices of the terms that may match the text, in the group's order."""
        found = text.candidates().get(self.number, [])
        if self.ungated and self.loose.search(text.value):
            return sorted({*found, *self.ungated})
        return found


def _group(terms: tuple[Term, ...]) -> _Group:
    found = _GROUPS.get(id(terms))
    if found is None or found[0] is not terms:
        ungated = tuple(i for i, term in enumerate(terms) if term.gate is None)
        loose = "|".join(f"(?:{_without_edges(terms[i].source)})" for i in ungated)
        owners: dict[str, list[int]] = {}
        for i, term in enumerate(terms):
            for literal in term.gate or ():
                owners.setdefault(literal, []).append(i)
        group = _Group(next(_GROUP_NUMBERS), ungated, re.compile(loose or "(?!)"))
        _LITERALS.add(group.number, owners)
        found = _GROUPS[id(terms)] = (terms, group)
    return found[1]


def _without_edges(term: str) -> str:
    """A term's pattern without its word edges: looser, so only a first pass. A pattern that starts with a
    look-behind makes `re` try every alternative at every position; without it `re` skips ahead to the
    characters a term can start with."""
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
        self._candidates: tuple[int, dict[int, list[int]]] = (-1, {})
        bounds = [0]
        for match in _CLAUSE_END.finditer(self.value):
            bounds.append(match.start())
            bounds.append(match.end())
        bounds.append(len(self.value))
        self.clauses = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        self._found: dict[int, list[Hit]] = {}
        self._derived: dict[tuple[str, int], tuple[object, object]] = {}

    def candidates(self) -> dict[int, list[int]]:
        """By term group, the terms whose needed literal is in the text: one automaton pass for all groups."""
        generation, found = self._candidates
        if generation != _LITERALS.state[0]:
            generation, found = self._candidates = _LITERALS.found_in(self.value)
        return found

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
        candidates = _group(terms).candidates(self) if terms else []
        if not candidates:  # most groups, for most texts: nothing to search
            self._found[key] = []
            return []
        hits: dict[tuple[str, int], Hit] = {}
        for index in candidates:
            term = terms[index]
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
        for index in _group(terms).candidates(self):
            match = terms[index].pattern.search(self.value)
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

    def one_phrase(self, a: Hit, b: Hit) -> bool:
        """In one clause, with no pause between them (overlapping hits are in one phrase)."""
        if a.clause != b.clause:
            return False
        return not _PAUSE.search(self.value, min(a.end, b.end), max(a.start, b.start))

    def preceding(self, hit: Hit) -> str:
        """The clause's text before the hit: where a negation of it would be."""
        start, _ = self.clauses[hit.clause]
        return self.value[start : hit.start]
