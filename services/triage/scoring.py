"""Pure triage decisions: which category, is it valid, how urgent, and why.

``classify`` and ``score`` are what the worker and ``levee triage explain`` both run; nothing here does I/O
or reads a clock. Every point of a score is a factor ``{name, weight, value, evidence}`` stored with the
PriorityAssessed event: ``weight`` is the points it added (negative lowers), ``value`` what was observed.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from events.reference import LEVELS, Reference, load_reference
from services.triage.lexicon import Hit, Term, Text
from services.triage.rules import Rules, Steps, load_rules

Factor = dict[str, Any]
_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "几": 3,
    "半": 0.5,
}
_NOT_CONTENT = re.compile(r"[\W_]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
NO_FACTS = "无效：没有明确的投诉对象和事实 (no clear target or facts)"
JOKE = "无效：玩笑或测试，没有具体问题 (a joke or test, no concrete problem)"


@dataclass(frozen=True)
class ComplaintFacts:
    """What intake recorded (the body of POST /api/v1/complaints, or a ComplaintReceived)."""

    description: str
    category: str | None = None
    # or "triage": the category a case was validated (and routed) with; "command": given when command staff
    # overruled its rejection
    category_from: str = "reporter"
    channel: str = "web"
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    people_affected: int = 1
    vulnerable: tuple[str, ...] = ()
    media_exposure: bool = False


@dataclass(frozen=True)
class Context:
    """What the stream knows beyond the complaint itself."""

    cluster_size: int = 1  # complaints pointing at the same event, this one included
    repeated_calls: int = 0
    media_exposure: bool = False
    minutes_waited: float = 0.0
    accept_within_minutes: int | None = None  # the deadline the wait is measured against


@dataclass(frozen=True)
class Assessment:
    score: int
    level: str
    category: str
    factors: list[Factor] = field(default_factory=list)
    life_threatening: bool = False


@dataclass(frozen=True)
class Verdict:
    """Valid (有效) with an assessment, or invalid (无效) with the reason told to the caller."""

    assessment: Assessment
    valid: bool = True
    reason: str | None = None


def factor(name: str, weight: int, value: Any, evidence: Any) -> Factor:
    return {"name": name, "weight": weight, "value": value, "evidence": evidence}


class TextMemo:
    """What the text of a complaint says, kept per facts for one rules file and one reference.

    Reading the text (classification, danger, distress, people, duration, validity) is the costly part of a
    score and depends on the facts alone; a worker re-scores the same complaint as its cluster grows or its
    reporter calls again. Bounded, least recently used first out.
    """

    def __init__(self, rules: Rules, reference: Reference, size: int = 20_000) -> None:
        self.rules, self.reference, self.size = rules, reference, size
        self._entries: OrderedDict[ComplaintFacts, tuple[list[Factor], str | None]] = OrderedDict()

    def text_factors(self, facts: ComplaintFacts) -> list[Factor]:
        return [dict(f) for f in self._analysis(facts)[0]]

    def invalid_reason(self, facts: ComplaintFacts) -> str | None:
        return self._analysis(facts)[1]

    def _analysis(self, facts: ComplaintFacts) -> tuple[list[Factor], str | None]:
        found = self._entries.get(facts)
        if found is not None:
            self._entries.move_to_end(facts)
            return found
        factors = _text_factors(facts, Text.of(facts.description), self.rules, self.reference)
        # Validity depends on the text's factors only (danger and category), never on the context.
        reason = check_validity(facts, _assessment(factors, self.rules), self.rules, self.reference)
        found = self._entries[facts] = (factors, reason)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return found


# ---- classification ----------------------------------------------------------------------------------

DECISIVE, STRONG, WEAK, OVER, DANGER_HINT = 6, 3, 1, 1, 4


def classify(text: str | Text, rules: Rules | None = None) -> tuple[str, list[str]]:
    """The category whose terms the text matches best, and the terms that matched.

    Decisive terms (they name the grievance) count 6, strong 3, weak 1; a term in a clause that says the
    problem is over counts 1; overlapping matches count once; a reported danger adds 4 to its category.
    """
    rules = rules or load_rules()
    body = text if isinstance(text, Text) else Text.of(text)
    over = resolved_clauses(body, rules)
    hinted = {
        kind.category for kind in rules.danger if kind.category and _danger_hits(body, kind.terms, rules)
    }
    best, best_points, best_evidence = "other", 0, []
    for category in rules.categories:
        points, evidence = 0, []
        taken: list[tuple[int, int]] = []
        for terms, weight in (
            (category.decisive, DECISIVE),
            (category.strong, STRONG),
            (category.weak, WEAK),
        ):
            for hit in body.find(terms):
                if any(hit.start < end and start < hit.end for start, end in taken):
                    continue
                taken.append((hit.start, hit.end))
                points += OVER if hit.clause in over else weight
                evidence.append(hit.text)
        if category.code in hinted:
            points += DANGER_HINT
        if points > best_points:
            best, best_points, best_evidence = category.code, points, evidence
    return best, best_evidence


# ---- what the text says ------------------------------------------------------------------------------


def _negated(body: Text, hit: Hit, rules: Rules, *, by_nobody: bool = True) -> bool:
    before = body.preceding(hit)
    # A take-back between a negation and the term ends the negation's reach: "help not kidding trapped".
    for term in rules.retracted:
        for match in term.finditer(before):
            before = before[match.end() :]
    zh = rules.negation_zh.search(before)
    if zh and not by_nobody and zh.group(0).endswith("人"):
        zh = None  # 屋企冇人 煤气漏咗: nobody home does not deny a gas leak
    return bool(zh or rules.negation_en.search(before))


def _live(body: Text, hits: list[Hit], rules: Rules, *, by_nobody: bool = True) -> list[Hit]:
    return [hit for hit in hits if not _negated(body, hit, rules, by_nobody=by_nobody)]


def resolution_hits(body: Text, rules: Rules) -> list[Hit]:
    return body.remember("resolution", rules, lambda: _live(body, body.find(rules.resolved), rules))


def resolved_clauses(body: Text, rules: Rules) -> set[int]:
    return {hit.clause for hit in resolution_hits(body, rules)}


def distress_hits(body: Text, rules: Rules) -> list[Hit]:
    return body.remember("distress", rules, lambda: _live(body, body.find(rules.distress), rules))


def safe_hits(body: Text, rules: Rules) -> list[Hit]:
    """Statements that nobody is in danger ("we are safe", 我没事), unnegated ("not everyone is safe" is
    none), and none at all when the caller shows distress."""
    return body.remember(
        "safe", rules, lambda: [] if distress_hits(body, rules) else _live(body, body.find(rules.safe), rules)
    )


def _danger_hits(body: Text, terms: tuple[Term, ...], rules: Rules) -> list[Hit]:
    """Danger reported as real and present, and not answered by "we are safe" said of it."""
    return _danger_reading(body, terms, rules)[1]


def reported_danger(body: Text, terms: tuple[Term, ...], rules: Rules) -> list[Hit]:
    """Danger the text reports as real and present: not negated, hypothetical, over, or a whole joke."""
    return _danger_reading(body, terms, rules)[0]


def _danger_reading(body: Text, terms: tuple[Term, ...], rules: Rules) -> tuple[list[Hit], list[Hit]]:
    if not body.find(terms):  # most kinds, for most texts: no term at all, nothing to read as real or not
        return [], []
    # Remembered by the rules (what decides "real": safe, resolved, negation), then by the kind's terms: one
    # table per text and rules, filled as kinds are asked for (the scorer asks for each several times).
    readings: dict[int, tuple[list[Hit], list[Hit]]] = body.remember("danger", rules, dict)
    found = readings.get(id(terms))
    if found is None:
        found = readings[id(terms)] = _read_danger(body, terms, rules)
    return found


def _read_danger(body: Text, terms: tuple[Term, ...], rules: Rules) -> tuple[list[Hit], list[Hit]]:
    found = body.find(terms)
    if not found:
        return [], []
    joke, unreal, resolutions, safe = _reality(body, rules)
    if joke:
        return [], []
    by_nobody = next((kind.nobody_denies for kind in rules.danger if kind.terms is terms), True)
    reported = [
        hit
        for hit in _live(body, found, rules, by_nobody=by_nobody)
        if hit.clause not in unreal and not any(_ends(body, hit, r, rules) for r in resolutions)
    ]
    # A safe statement answers only the danger in its own phrase ("everyone got out of the fire"): "i am
    # fine, my dad is not breathing" and "我没事 隔壁阿婆晕倒了" report a danger to someone else, and so
    # does a new subject straight after it ("we are ok the fire is spreading", 我没事我老公晕倒了).
    return reported, [hit for hit in reported if not any(_answers(body, s, hit, rules) for s in safe)]


def _answers(body: Text, safe: Hit, danger: Hit, rules: Rules) -> bool:
    if not body.one_phrase(safe, danger):
        return False
    after = body.value[safe.end : danger.end] if safe.end <= danger.start else ""
    return not (after and rules.new_subject.match(after))


def _reality(body: Text, rules: Rules) -> tuple[bool, set[int], list[Hit], list[Hit]]:
    """What makes a danger term not a report, read once per text: a whole joke, the clauses that are
    hypothetical or deny it, the resolutions, the safe statements."""
    return body.remember(
        "reality",
        rules,
        lambda: (
            whole_joke(body, rules),
            {hit.clause for hit in body.find(rules.negation_clause)},
            resolution_hits(body, rules),
            safe_hits(body, rules),
        ),
    )


def whole_joke(body: Text, rules: Rules) -> bool:
    """The caller takes it back ("jk", 开玩笑的, 测试) and says nothing else but alarm words: "fire fire fire
    jk". Laughter alone never is (people laugh when they are scared), nor a take-back beside any other word."""
    return body.remember("whole_joke", rules, lambda: _only_alarm_words(body, rules))


def _only_alarm_words(body: Text, rules: Rules) -> bool:
    # A take-back after a negation confirms ("不是开玩笑", "not kidding"): one such, and nothing is taken back.
    takebacks = body.find(rules.retracted)
    if not takebacks or any(_negated(body, hit, rules) for hit in takebacks):
        return False
    # Each take-back becomes a line break first, so no alarm term (".{0,30}", "{gap:N}") spans one.
    rest, alarmed = body.value, False
    for term in rules.retracted:
        rest = term.pattern.sub("\n", rest)
    for terms in (rules.distress, rules.cry, *(kind.terms for kind in rules.danger)):
        for term in terms:
            if term.may_occur_in(rest):
                rest, found = term.pattern.subn(" ", rest)
                alarmed = alarmed or found > 0
    if not alarmed:  # "test" alone is a call with no facts, told as such
        return False
    for term in rules.joke:
        rest = term.pattern.sub(" ", rest)
    return _content_weight(rest, rules) == 0


def _ends(body: Text, danger: Hit, resolution: Hit, rules: Rules) -> bool:
    """A resolution ends a danger in its own clause, or a later one with no "still"/"but" in between."""
    if resolution.clause == danger.clause:
        return True
    between = Text(body.value[danger.end : resolution.start])
    return resolution.start > danger.start and not between.any(rules.still)


def find_danger(body: Text, rules: Rules) -> list[tuple[str, str]]:
    """(kind, matched text) of each danger to life the text reports as real and present; of overlapping
    matches of one kind only the longest ("trapped in the lift", not also "trapped")."""
    found = []
    for kind in rules.danger:
        if not body.find(
            kind.terms
        ):  # as in _danger_reading, without the calls to get there (the API asks this
            continue  # of every complaint it takes, for life first)
        kept: list[Hit] = []
        for hit in sorted(_danger_hits(body, kind.terms, rules), key=lambda h: h.start - h.end):
            if not any(hit.start < k.end and k.start < hit.end for k in kept):
                kept.append(hit)
        found += [(kind.name, hit.text) for hit in sorted(kept, key=lambda h: h.start)]
    return found


def find_vulnerable(body: Text, given: Sequence[str], rules: Rules) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {kind: ["given at intake"] for kind in given}
    for kind, terms in rules.vulnerable.items():
        hits = _live(body, body.find(terms), rules)
        if hits:
            kinds.setdefault(kind, []).extend(hit.text for hit in hits)
    return kinds


def count_people(body: Text, given: int, rules: Rules) -> tuple[int, list[str]]:
    people, evidence = given, []
    for match in rules.people_count.finditer(body.value):
        unit = match.group(2)
        number = int(match.group(1)) * (rules.household_size if unit in rules.household_units else 1)
        if number > people:
            people, evidence = number, [match.group(0)]
    many = body.any(rules.many_people)
    if many and people < 50:
        people, evidence = 50, many
    return people, evidence


def _cn_number(text: str) -> float:
    if text.isdigit():
        return float(text)
    if text.startswith("十"):
        text = "一" + text
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + (_CN_DIGITS.get(ones, 5) if ones else 0)
    return float(_CN_DIGITS.get(text[-1:], 1))


def hours_lasted(body: Text, rules: Rules) -> tuple[float, list[str]]:
    hours, evidence = 0.0, []  # each unit and phrase is searched only if its literal is in the text
    for unit, per_unit in rules.duration_units:
        for match in unit.finditer(body.value):
            value = _cn_number(match.group(1)) * per_unit
            if value > hours:
                hours, evidence = value, [match.group(0)]
    for term, fixed in rules.duration_phrases:
        found = term.search(body.value)
        if found and fixed > hours:
            hours, evidence = float(fixed), [found.group(0)]
    return hours, evidence


def step_points(steps: Steps, value: float) -> int:
    points = 0
    for low, step_points in steps:
        if value >= low:
            points = step_points
    return points


# ---- score -------------------------------------------------------------------------------------------


def level_for(score: int, rules: Rules) -> str:
    for level in LEVELS[:3]:
        if score >= rules.thresholds[level]:
            return level
    return "P4"


def score(
    facts: ComplaintFacts,
    context: Context | None = None,
    rules: Rules | None = None,
    reference: Reference | None = None,
    *,
    memo: TextMemo | None = None,
) -> Assessment:
    """Score 0-100, level P1-P4 and the factors behind them; danger to life forces P1."""
    if memo is not None:
        rules, reference = memo.rules, memo.reference
        factors = memo.text_factors(facts)
    else:
        rules, reference = rules or load_rules(), reference or load_reference()
        factors = _text_factors(facts, Text.of(facts.description), rules, reference)
    factors += _context_factors(facts, context or Context(), rules)
    return _assessment(factors, rules)


def _assessment(factors: list[Factor], rules: Rules) -> Assessment:
    danger = any(f["name"] == "danger_to_life" for f in factors)
    total = max(0, min(100, sum(f["weight"] for f in factors)))
    if danger:
        total = max(total, rules.thresholds["P1"])
    elif any(f["name"] == "cry_for_help" for f in factors):
        # Someone crying for help is called back within the hour, however little they could say.
        total = max(total, rules.thresholds["P2"])
    category = next(f["value"] for f in factors if f["name"] == "category")
    return Assessment(total, level_for(total, rules), category, factors, danger)


CATEGORY_FROM = {
    "reporter": "given at intake",
    "triage": "settled by triage when validated",
    "command": "set by command staff when they overruled the rejection",
}


def _category_factor(facts: ComplaintFacts, body: Text, rules: Rules) -> Factor:
    if facts.category:
        said = CATEGORY_FROM.get(facts.category_from, CATEGORY_FROM["triage"])
        return factor("category", rules.category_base(facts.category), facts.category, [said])
    code, evidence = classify(body, rules)
    return factor("category", rules.category_base(code), code, evidence)


def _text_factors(facts: ComplaintFacts, body: Text, rules: Rules, reference: Reference) -> list[Factor]:
    w = rules.weights
    category = _category_factor(facts, body, rules)
    factors = [category]
    emergency = reference.category(category["value"]).group == "emergency_event"
    if danger := find_danger(body, rules):
        kinds = sorted({kind for kind, _ in danger})
        factors.append(factor("danger_to_life", w["danger_to_life"], kinds, [text for _, text in danger]))
    if vulnerable := find_vulnerable(body, facts.vulnerable, rules):
        points = w["vulnerable"] + w["vulnerable_each_extra"] * (len(vulnerable) - 1)
        evidence = [text for texts in vulnerable.values() for text in texts]
        factors.append(factor("vulnerable", points, sorted(vulnerable), evidence))
    if distress := [hit.text for hit in distress_hits(body, rules)]:
        factors.append(factor("distress", w["distress"], len(distress), distress))
    # Something about to give way, read as danger is: not negated, hypothetical (如果...掉下来) or over (已经拆走了).
    hazard = list(dict.fromkeys(hit.text for hit in reported_danger(body, rules.hazard, rules)))
    # A hazard is a public-safety event whatever its category: the people under it count (a sign about to
    # fall over a bus stop, a school gate, a market).
    if emergency or hazard:
        people, people_evidence = count_people(body, facts.people_affected, rules)
        if points := step_points(rules.people_steps, people):
            factors.append(factor("people_affected", points, people, people_evidence or ["given at intake"]))
    if emergency:
        hours, hours_evidence = hours_lasted(body, rules)
        over = resolution_hits(body, rules) and not body.any(rules.still)
        if not over and (points := step_points(rules.duration_steps, hours)):
            factors.append(factor("prolonged", points, hours, hours_evidence))
        if access := body.any(rules.access):
            factors.append(factor("access_blocked", w["access_blocked"], True, access))
    if hazard:
        factors.append(factor("hazard", w["hazard"], True, hazard))
    if not danger and (crime := crime_in_progress(body, rules)):
        factors.append(factor("in_progress", w.get("in_progress", 0), True, crime))
    if nuisance := body.any(rules.nuisance):
        factors.append(factor("nuisance", w["nuisance"], True, nuisance))
    if calm := body.any(rules.calm):
        factors.append(factor("calm", w["calm"], True, calm))
    if (resolved := resolution_hits(body, rules)) and not body.any(rules.still) and not danger:
        factors.append(factor("resolved", w["resolved"], True, [hit.text for hit in resolved]))
    if not danger and not nuisance and not calm and (cry := cry_for_help(body, rules)):
        # The floor is for a caller who could say little else, or one in an emergency: "救命 垃圾站好臭"
        # and "Please help, the streetlight is out" are a complaint with a cry in it, not a cry.
        if emergency or _mostly_cry(body, rules):
            factors.append(factor("cry_for_help", w.get("cry_for_help", 0), True, cry))
    return factors


def crime_in_progress(body: Text, rules: Rules) -> list[str]:
    """A break-in or looting going on now, read as danger is (not negated, asked, hypothetical or over), and
    not a car's, a bike's or a thing's theft said in its own clause ("有人正在撬我们楼下的车")."""
    hits = reported_danger(body, rules.in_progress, rules)
    unless = {hit.clause for hit in body.find(rules.in_progress_unless)}
    return list(dict.fromkeys(hit.text for hit in hits if hit.clause not in unless))


def cry_for_help(body: Text, rules: Rules) -> list[str]:
    """救命, help, sos with nothing to say it is not meant (laughter, a link, a take-back)."""
    cry = body.any(rules.cry)
    if not cry or body.any(rules.cry_unless) or whole_joke(body, rules):
        return []
    return cry


def _mostly_cry(body: Text, rules: Rules) -> bool:
    """The cry and other alarm words are at least half of what the text says."""
    rest = body.value
    for term in (*rules.cry, *rules.distress):
        if term.may_occur_in(rest):
            rest = term.pattern.sub(" ", rest)
    left = _content_weight(rest, rules)
    return left <= _content_weight(body.value, rules) - left


def _content_weight(text: str, rules: Rules) -> int:
    for filler in rules.filler:
        text = text.replace(filler, "")
    content = _NOT_CONTENT.sub("", text)
    # A Chinese character carries about a word: 停电 is a complaint, "ok" is not.
    return len(content) + (rules.cjk_weight - 1) * len(_CJK.findall(content))


def _context_factors(facts: ComplaintFacts, context: Context, rules: Rules) -> list[Factor]:
    w = rules.weights
    factors: list[Factor] = []
    if points := step_points(rules.cluster_steps, context.cluster_size):
        factors.append(factor("cluster", points, context.cluster_size, ["complaints about the same event"]))
    if context.repeated_calls > 0:
        points = min(w["repeated_call_each"] * context.repeated_calls, w["repeated_calls_max"])
        factors.append(
            factor("repeated_calls", points, context.repeated_calls, ["calls recorded on the case"])
        )
    if facts.media_exposure or context.media_exposure:
        factors.append(factor("media_exposure", w["media_exposure"], True, ["reported in the media"]))
    if context.accept_within_minutes and context.minutes_waited > 0:
        share = 100 * context.minutes_waited / context.accept_within_minutes
        if points := step_points(rules.waited_steps, share):
            evidence = [f"waited {context.minutes_waited:.0f} of {context.accept_within_minutes} min"]
            factors.append(factor("waited", points, round(share), evidence))
    return factors


# ---- validity ----------------------------------------------------------------------------------------


def check_validity(
    facts: ComplaintFacts, assessment: Assessment, rules: Rules, reference: Reference
) -> str | None:
    """None when valid (有效); otherwise the reason (无效) told to the caller."""
    if facts.lat is not None and facts.lon is not None and not reference.in_served_area(facts.lat, facts.lon):
        reason = "无效：地点不在本市服务区域内 (outside the served area)"
        if assessment.life_threatening:
            reason += "；涉及生命危险，请立即转当地110/119 (danger to life: hand over to local emergency services now)"
        return reason
    body = Text.of(facts.description)
    if whole_joke(body, rules):
        return JOKE
    # Danger, or a cry for help, is never turned away for lack of detail: someone calls back.
    if assessment.life_threatening or distress_hits(body, rules):
        return None
    vague = _vague_or_joke(facts, assessment, body, rules)
    # Nor a danger that a safe statement answers ("everyone got out of the fire"): a person reads it.
    if vague and _any_reported_danger(body, rules):
        return None
    # Nor something about to give way (墙体开裂 随时倒塌): what and where are a person's to ask.
    if vague == NO_FACTS and any(f["name"] == "hazard" for f in assessment.factors):
        return None
    return vague


def _vague_or_joke(facts: ComplaintFacts, assessment: Assessment, body: Text, rules: Rules) -> str | None:
    category = next(f for f in assessment.factors if f["name"] == "category")
    if _content_weight(body.value, rules) < rules.min_content_chars:
        return NO_FACTS
    if body.any(rules.joke) and not _strong_evidence(body, category["value"], rules):
        return JOKE
    if not (facts.category or category["evidence"]):
        return NO_FACTS
    return None


def _any_reported_danger(body: Text, rules: Rules) -> bool:
    return any(reported_danger(body, kind.terms, rules) for kind in rules.danger)


def _strong_evidence(body: Text, code: str, rules: Rules) -> bool:
    return any(body.any(c.strong) for c in rules.categories if c.code == code)


def judge(
    facts: ComplaintFacts,
    context: Context | None = None,
    rules: Rules | None = None,
    reference: Reference | None = None,
    *,
    memo: TextMemo | None = None,
) -> Verdict:
    """Validity and priority together: exactly what the worker decides for a new complaint."""
    if memo is not None:
        assessment = score(facts, context, memo=memo)
        reason = memo.invalid_reason(facts)
    else:
        rules, reference = rules or load_rules(), reference or load_reference()
        assessment = score(facts, context, rules, reference)
        reason = check_validity(facts, assessment, rules, reference)
    return Verdict(assessment, valid=reason is None, reason=reason)
