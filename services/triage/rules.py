"""The triage rules file (``rules.toml`` beside this module by default), loaded and compiled once.

A deployment replaces the file to tune lexicons, weights and thresholds; nothing here is a rule itself.
Loading reads a file, so it happens on first use (``load_rules()``), never at import time.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from events.reference import LEVELS, Reference, load_reference
from services.triage.lexicon import Term, compile_terms

Steps = tuple[tuple[float, int], ...]
_PLACEHOLDER = re.compile(r"\{(?:gap:(\d+)|([a-z][a-z_]*))\}")
# A bounded gap that stays inside one clause (the clause ends of lexicon.py, plus the full stop): written with
# ASCII escapes so that an English term keeps its word-edge rule.
_CLAUSE_GAP = r"[^\u3002\u3001.!?;,\n]{{0,{}}}"


@dataclass(frozen=True)
class DangerKind:
    name: str
    label: str
    category: str  # the category this danger points at ("" for none)
    terms: tuple[Term, ...]
    # "冇人"/"没有人" before it denies it: true of a person's danger (没有人被困), not of a thing's (冇人 煤气漏咗)
    nobody_denies: bool = True


@dataclass(frozen=True)
class CategoryTerms:
    code: str
    base: int
    decisive: tuple[Term, ...]
    strong: tuple[Term, ...]
    weak: tuple[Term, ...]


@dataclass(frozen=True)
class Reach:
    """How close a report must be to join a group: within `nearby_km` of one of its reports (when both have
    coordinates) and `link_minutes` of its last one."""

    nearby_km: float
    link_minutes: int

    @property
    def link(self) -> timedelta:
        return timedelta(minutes=self.link_minutes)


@dataclass(frozen=True)
class Clustering:
    groups: tuple[str, ...]
    bucket_minutes: int
    link_minutes: int  # the default reach, for a category missing from by_category
    nearby_km: float
    incident_threshold: int
    max_rescore: int
    # A fallen tree is a point, a power outage covers an area: each category's own reach, defaults filled in.
    by_category: dict[str, Reach] = field(default_factory=dict)

    def reach(self, category: str) -> Reach:
        return self.by_category.get(category) or Reach(self.nearby_km, self.link_minutes)


@dataclass(frozen=True)
class Duplicates:
    window_minutes: int
    nearby_km: float


@dataclass(frozen=True)
class Rules:
    version: str
    thresholds: dict[str, int]  # P1..P3 -> minimum score
    weights: dict[str, int]
    people_steps: Steps
    duration_steps: Steps
    cluster_steps: Steps
    waited_steps: Steps
    danger: tuple[DangerKind, ...]
    negation_zh: re.Pattern[str]
    negation_en: re.Pattern[str]
    negation_clause: tuple[Term, ...]
    resolved: tuple[Term, ...]
    still: tuple[Term, ...]
    safe: tuple[Term, ...]
    new_subject: re.Pattern[str]  # right after a safe statement, someone else's danger begins
    hazard: tuple[Term, ...]
    # A crime going on now (a break-in, looting): someone is sent within the hour whoever is home.
    in_progress: tuple[Term, ...]
    in_progress_unless: tuple[Term, ...]  # in the same clause, a vehicle's or a thing's theft: not this
    nuisance: tuple[Term, ...]
    vulnerable: dict[str, tuple[Term, ...]]
    distress: tuple[Term, ...]
    calm: tuple[Term, ...]
    many_people: tuple[Term, ...]
    people_count: re.Pattern[str]
    household_units: frozenset[str]
    household_size: int
    duration_units: tuple[tuple[Term, int], ...]  # a number, then the unit (the term's source)
    duration_phrases: tuple[tuple[Term, int], ...]
    access: tuple[Term, ...]
    categories: tuple[CategoryTerms, ...]
    min_content_chars: int
    cjk_weight: int  # a Chinese character counts this many content characters
    filler: tuple[str, ...]
    joke: tuple[Term, ...]
    retracted: tuple[Term, ...]  # "jk", 开玩笑: with nothing but alarm words, the whole text is a joke
    cry: tuple[Term, ...]  # a cry for help: at least P2
    cry_unless: tuple[Term, ...]
    clustering: Clustering
    duplicates: Duplicates

    def duplicate_km(self, category: str) -> float:
        """How close the same caller's report must be to count as a repeat: never wider than the category's
        event (a caller who reports a second fallen tree 800 m away reports a second event)."""
        return min(self.duplicates.nearby_km, self.clustering.reach(category).nearby_km)

    def category_base(self, code: str) -> int:
        for category in self.categories:
            if category.code == code:
                return category.base
        return 0


def load_rules(path: Path | None = None, reference: Reference | None = None) -> Rules:
    """Load and check a rules file; ``None`` means the packaged default (cached)."""
    if path is None and reference is None:
        return _default_rules()
    text = path.read_text(encoding="utf-8") if path else _packaged_text()
    return parse_rules(tomllib.loads(text), reference or load_reference(), str(path or "rules.toml"))


_configured: tuple[Path | None, Path | None] = (
    None,
    None,
)  # (LEVEE_TRIAGE_RULES, LEVEE_REFERENCE) of this process


def configure_rules(path: Path | None, reference_file: Path | None = None) -> None:
    """This process's rules file and reference file (None: the packaged ones), for `configured_rules`: the API
    reads danger to life with the rules triage scores with (services/api/operator_reference.py)."""
    global _configured
    _configured = (path, reference_file)


def configured_rules() -> Rules:
    """The rules `configure_rules` named, read and checked once."""
    return _rules_for(*_configured)


@cache
def _rules_for(path: Path | None, reference_file: Path | None) -> Rules:
    return load_rules(path, load_reference(reference_file) if reference_file else None)


@cache
def _default_rules() -> Rules:
    return parse_rules(tomllib.loads(_packaged_text()), load_reference(), "rules.toml")


def _packaged_text() -> str:
    return resources.files(__package__).joinpath("rules.toml").read_text(encoding="utf-8")


def _steps(raw: list[list[float]]) -> Steps:
    return tuple(sorted((float(low), int(points)) for low, points in raw))


def expand_term(term: str, sets: dict[str, list[str]]) -> str:
    """``{name}`` becomes any word of ``[sets].name``, ``{gap:N}`` up to N characters of the same clause.

    One term then covers a family of phrasings (a person + a harm, a verb ... its object) instead of a list
    of single strings. Regex quantifiers such as ``{0,4}`` are digits only and are left alone.
    """

    def placeholder(match: re.Match[str]) -> str:
        gap, name = match.groups()
        if gap is not None:
            return _CLAUSE_GAP.format(int(gap))
        if name not in sets:
            raise ValueError(f"term {term!r} names an unknown set {{{name}}}")
        return "(?:" + "|".join(sets[name]) + ")"

    return _PLACEHOLDER.sub(placeholder, term)


def _family_terms(terms: list[str], sets: dict[str, list[str]], source: str) -> tuple[Term, ...]:
    try:
        return compile_terms([expand_term(term, sets) for term in terms])
    except ValueError as error:
        raise ValueError(f"invalid triage rules in {source}: {error}") from None


def parse_rules(raw: dict[str, Any], reference: Reference, source: str) -> Rules:
    """Rules from a parsed file; ValueError, naming the file and what is wrong, for anything it cannot use."""
    try:
        return _parse_rules(raw, reference, source)
    except KeyError as missing:  # a section or a key the file left out
        raise ValueError(f"invalid triage rules in {source}: {missing.args[0]!r} is missing") from None
    except (TypeError, AttributeError) as error:  # a value of the wrong kind (a number where a list goes)
        raise ValueError(f"invalid triage rules in {source}: a value of the wrong type ({error})") from None


def _parse_rules(raw: dict[str, Any], reference: Reference, source: str) -> Rules:
    sets: dict[str, list[str]] = raw.get("sets", {})
    weights = raw["weights"]
    people = raw["people"]
    duration = raw["duration"]
    negation = raw["negation"]
    zh_units = "|".join(people["units_zh"])
    en_units = "|".join(people["units_en"])
    rules = Rules(
        version=str(raw.get("version", "")),
        thresholds={level: int(raw["levels"][level]) for level in LEVELS[:3]},
        weights={k: int(v) for k, v in weights.items() if not isinstance(v, list)},
        people_steps=_steps(weights["people"]),
        duration_steps=_steps(weights["duration"]),
        cluster_steps=_steps(weights["cluster"]),
        waited_steps=_steps(weights["waited"]),
        danger=tuple(
            DangerKind(
                name,
                kind["label"],
                kind.get("category", ""),
                _family_terms(kind["terms"], sets, source),
                bool(kind.get("nobody_denies", True)),
            )
            for name, kind in raw["danger"].items()
        ),
        negation_zh=re.compile(negation["zh_before"]),
        negation_en=re.compile(negation["en_before"]),
        negation_clause=_family_terms(negation["clause"], sets, source),
        resolved=compile_terms(negation["resolved"]),
        still=compile_terms(negation["still"]),
        safe=compile_terms(negation["safe"]),
        new_subject=re.compile(negation.get("new_subject", "(?!)")),
        hazard=compile_terms(raw["hazard"]["terms"]),
        in_progress=_family_terms(raw.get("in_progress", {}).get("terms", []), sets, source),
        in_progress_unless=_family_terms(raw.get("in_progress", {}).get("unless", []), sets, source),
        nuisance=compile_terms(raw["nuisance"]["terms"]),
        vulnerable={kind: compile_terms(terms) for kind, terms in raw["vulnerable"].items()},
        distress=compile_terms(raw["distress"]["terms"]),
        calm=compile_terms(raw["calm"]["terms"]),
        many_people=compile_terms(people["many"]),
        people_count=re.compile(rf"(\d+)\s*(?:多|余|几)?\s*({zh_units}|(?:{en_units})(?![a-z]))"),
        household_units=frozenset(
            {"户", "家", "households", "household", "families", "homes", "flats", "houses"}
        ),
        household_size=int(people["household_size"]),
        duration_units=tuple(
            (
                Term.of(
                    unit,
                    re.compile(rf"(\d+|[一二两三四五六七八九十几半]+)\s*(?:多|个)?\s*(?:{unit})(?![a-z])"),
                    unit,
                ),
                int(hours),
            )
            for unit, hours in duration["units"].items()
        ),
        duration_phrases=tuple(
            (term, int(duration["phrases"][term.source])) for term in compile_terms(list(duration["phrases"]))
        ),
        access=compile_terms(raw["access"]["terms"]),
        categories=tuple(
            CategoryTerms(
                code,
                int(c["base"]),
                _family_terms(c.get("decisive", []), sets, source),
                _family_terms(c["strong"], sets, source),
                _family_terms(c["weak"], sets, source),
            )
            for code, c in raw["categories"].items()
        ),
        min_content_chars=int(raw["validity"]["min_content_chars"]),
        # The keys below came later: a deployment's older file without them keeps the old behaviour.
        cjk_weight=int(raw["validity"].get("cjk_weight", 1)),
        filler=tuple(raw["validity"]["filler"]),
        joke=compile_terms(raw["validity"]["joke"]),
        retracted=compile_terms(raw["validity"].get("retracted", [])),
        cry=compile_terms(raw.get("cry", {}).get("terms", [])),
        cry_unless=compile_terms(raw.get("cry", {}).get("unless", [])),
        clustering=parse_clustering(raw["clustering"], reference, source),
        duplicates=Duplicates(
            window_minutes=int(raw["duplicates"]["window_minutes"]),
            nearby_km=float(raw["duplicates"]["nearby_km"]),
        ),
    )
    _check(rules, reference, source)
    return rules


_REACH_KEYS = ("nearby_km", "link_minutes")


def parse_clustering(raw: dict[str, Any], reference: Reference, source: str) -> Clustering:
    """``[clustering]`` with its per-category reach; every problem in it named in one error at load."""
    problems: list[str] = []
    groups = tuple(raw["groups"])
    bucket = _positive(raw["bucket_minutes"], "clustering.bucket_minutes", problems, whole=True)
    default = _reach(raw, "clustering", None, int(bucket), problems)
    by_category: dict[str, Reach] = {}
    table = raw.get("by_category", {})
    if not isinstance(table, dict):
        problems.append(
            "clustering.by_category must be a table of category code = { nearby_km, link_minutes }"
        )
        table = {}
    known = {c.code: c for c in reference.categories}
    for code, entry in table.items():
        where = f"clustering.by_category.{code}"
        if code not in known:
            problems.append(f"{where}: unknown category {code!r} (not in the reference data)")
            continue
        if known[code].group not in groups:
            problems.append(f"{where}: {code} is never clustered (its group {known[code].group!r} is not in "
                            f"clustering.groups)")  # fmt: skip
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a table such as {{ nearby_km = 0.5 }}")
            continue
        if extra := sorted(set(entry) - set(_REACH_KEYS)):
            problems.append(f"{where}: unknown settings {extra} (only {list(_REACH_KEYS)})")
        by_category[code] = _reach(entry, where, default, int(bucket), problems)
    if problems:
        raise ValueError(f"invalid triage rules in {source}: " + "; ".join(problems))
    return Clustering(
        groups=groups,
        bucket_minutes=int(bucket),
        link_minutes=default.link_minutes,
        nearby_km=default.nearby_km,
        incident_threshold=int(raw["incident_threshold"]),
        max_rescore=int(raw["max_rescore"]),
        by_category=by_category,
    )


def _reach(
    entry: dict[str, Any], where: str, default: Reach | None, bucket: int, problems: list[str]
) -> Reach:
    """A reach from `entry`, `default` for what it leaves out (both required without one). The link window is at
    most one bucket: a group is looked for in this bucket and the one before only, so a longer one would not apply."""
    if default is not None and "nearby_km" not in entry:
        km = default.nearby_km  # checked where it was given
    else:
        km = _positive(entry.get("nearby_km"), f"{where}.nearby_km", problems, whole=False)
    if default is not None and "link_minutes" not in entry:
        link = float(default.link_minutes)
    else:
        link = _positive(entry.get("link_minutes"), f"{where}.link_minutes", problems, whole=True)
    if bucket and link > bucket and (default is None or "link_minutes" in entry):
        problems.append(f"{where}.link_minutes: {link:g} is longer than clustering.bucket_minutes ({bucket})")
    return Reach(km, int(link))


def _positive(value: object, where: str, problems: list[str], *, whole: bool) -> float:
    """`value` if it is a finite number above zero (a whole one when `whole`), else 0 and a problem noted."""
    if value is None:
        problems.append(f"{where} is missing")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and isinstance(value, float)):
        problems.append(f"{where}: {value!r} is not a {'whole ' if whole else ''}number")
        return 0.0
    if not math.isfinite(value):
        problems.append(f"{where}: {value!r} is not a finite number")
        return 0.0
    if value <= 0:
        problems.append(f"{where}: {value!r} must be above zero")
        return 0.0
    return float(value)


def _check(rules: Rules, reference: Reference, source: str) -> None:
    """A wrong rules file stops the worker at start, not in the middle of a surge."""
    problems: list[str] = []
    codes = {c.code for c in rules.categories}
    known = {c.code for c in reference.categories}
    if missing := known - codes:
        problems.append(f"categories without terms: {sorted(missing)}")
    if unknown := codes - known:
        problems.append(f"categories not in the reference data: {sorted(unknown)}")
    t = rules.thresholds
    if not 0 < t["P3"] < t["P2"] < t["P1"] <= 100:
        problems.append("levels must rise: 0 < P3 < P2 < P1 <= 100")
    if bad := {k.category for k in rules.danger if k.category} - known:
        problems.append(f"danger kinds point at unknown categories: {sorted(bad)}")
    if unknown_kinds := set(rules.vulnerable) - set(reference.vulnerable_kinds):
        problems.append(f"vulnerable kinds not in the reference data: {sorted(unknown_kinds)}")
    if rules.cjk_weight < 1:
        problems.append("validity.cjk_weight: a Chinese character counts at least 1")
    if rules.clustering.incident_threshold < 2:
        problems.append("clustering.incident_threshold: an incident needs at least 2 reporters")
    if problems:
        raise ValueError(f"invalid triage rules in {source}: " + "; ".join(problems))
