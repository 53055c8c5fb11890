"""The call card's pure decisions: life first, the acceptance preview, the reference files themselves."""

from __future__ import annotations

import pytest

from events.reference import load_reference
from services.api.operator_reference import _scanner, _spread, acceptance_preview, guide, life_first


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("Two elderly neighbours are trapped upstairs by the water", ["119"]),
        ("楼下着火了，浓烟很大", ["119"]),
        ("I can smell gas in the stairwell", ["119"]),
        ("我父亲昏迷了，家里停电", ["120"]),
        ("A child fell into the river near the bridge", ["110"]),
        ("My mother's oxygen concentrator has no power and someone is trapped in the lift", ["119", "120"]),
        ("My house is collapsing", ["119"]),
        ("楼在摇 墙裂了", ["119"]),
        ("天花板塌下来了", ["119"]),
        # traditional characters and full width, as Hong Kong callers type them (the terms are simplified)
        ("電梯困人", ["119"]),
        ("煤氣洩漏 好大陣味", ["119"]),
        ("樓下著火了", ["119"]),
        ("ＧＡＳ ＬＥＡＫ", ["119"]),
        # a second round of real callers (tests/unit/triage/test_real_callers_round2.py)
        ("停电两天 老人中暑了", ["120"]),
        ("my son was bitten by a snake", ["120"]),
        ("撤离时跟孩子走散了", ["110"]),
        ("someone is breaking into my flat with a knife", ["110"]),
        ("我女儿不见了", ["110"]),
        ("I cant find my daughter", ["110"]),
        ("有个小朋友被水吸咗落去", ["110"]),
        ("後山塌咗 泥頭衝入屋", ["119"]),
    ],
)
def test_danger_to_life_names_the_services_to_call_first(text: str, services: list[str]) -> None:
    found = life_first(text)
    assert found is not None and found["services"] == services
    assert "/".join(services) in found["message_en"] and "/".join(services) in found["message_zh"]


@pytest.mark.parametrize(
    "text",
    [
        "No power since 6am on Harbour Road",
        "No one is trapped, but the road is blocked",
        "没有人被困，只是停水了",
        "When will the water come back?",
        "The roof is not collapsing, it only leaks",
        "怎么预防中暑",
        "独居阿婆打热线没人接",
        # things lost, not people; a knife in the kitchen; a break-in found the morning after (a review)
        "我个仔唔见咗部电话",
        "我女儿的书包找不到了",
        "我家的狗走失了",
        "I cut myself with a knife while cooking",
        "昨晚有人撬门，今早才发现",
        "cant find my daughters shoes",
    ],
)
def test_no_danger_to_life_means_no_transfer(text: str) -> None:
    assert life_first(text) is None


def test_every_category_answer_points_at_a_real_category_and_has_both_languages() -> None:
    ref = load_reference()
    codes = {c.code for c in ref.categories}
    answers = guide().answers
    assert answers
    for answer in answers:
        assert answer["category"] in codes
        assert answer["text_en"].strip() and answer["text_zh"].strip()
    assert len({a["code"] for a in answers}) == len(answers)


def test_the_seven_steps_are_in_order_in_both_languages() -> None:
    steps = guide().steps
    assert [s["code"] for s in steps] == [
        "contain",
        "calm",
        "apologise",
        "facts",
        "propose",
        "agree",
        "follow_up",
    ]
    assert all(s["phrases_en"] and s["phrases_zh"] for s in steps)


def test_a_deployment_cannot_allow_more_follow_up_attempts_than_the_domain() -> None:
    assert 1 <= guide().max_follow_up_attempts <= 3


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"description": "no power", "category": None, "lat": None, "lon": None, "district": None},
         ["facts_missing", "no_category", "no_location"]),
        ({"description": "No power on the whole street since 6am", "category": "power_outage", "lat": 31.2,
          "lon": 121.5, "district": None}, ["outside_area"]),
        ({"description": "No power on the whole street since 6am", "category": "power_outage", "lat": None,
          "lon": None, "district": "westbay", "open_same_category": 1}, ["likely_duplicate"]),
        ({"description": "No power on the whole street since 6am", "category": "power_outage", "lat": None,
          "lon": None, "district": "westbay"}, []),
    ],
)  # fmt: skip
def test_acceptance_preview_says_what_the_rules_will_say(fields: dict[str, object], codes: list[str]) -> None:
    issues = acceptance_preview(load_reference(), **fields)  # type: ignore[arg-type]
    assert [i["code"] for i in issues] == codes


@pytest.mark.parametrize(
    ("term", "spread"),
    [
        (
            "(house|home|roof)( \\w+){0,2} is",
            ["house( \\w+){0,2} is", "home( \\w+){0,2} is", "roof( \\w+){0,2} is"],
        ),
        ("(?:can'?t find|separated from) (my|our)", ["can'?t find (my|our)", "separated from (my|our)"]),
        ("(被|俾)(毒)?蛇咬", ["被(毒)?蛇咬", "俾(毒)?蛇咬"]),
        ("(a|b)?c", ["(a|b)?c"]),  # an optional group: its words need not start the match
        ("(a|[bc])d", ["(a|[bc])d"]),  # an alternative that is not a plain word
    ],
)
def test_a_term_starting_with_a_group_of_words_is_spread_into_one_term_per_word(
    term: str, spread: list[str]
) -> None:
    """Tried whole at every position of the text, each such term cost more than the rest of the lexicon:
    intake's life-first check was four times slower with them (found by a review of this change)."""
    assert _spread(term) == spread


def test_the_scan_finds_what_each_danger_pattern_finds() -> None:
    """Spreading and grouping change where the scan tries terms, never what they match."""
    g = guide()
    scanner = _scanner(g)
    texts = [
        "The roof is collapsing",
        "屋企天花冧落嚟",
        "a man with a knife",
        "I cant find my daughter",
        "被蛇咬",
    ]
    for text in texts:
        starts = {m.start() for m in scanner.anywhere.finditer(text)}
        found = [m for danger in scanner.per_danger for m in danger.finditer(text)]
        assert found, f"a danger pattern should match {text!r}: else the check below checks nothing"
        for match in found:
            assert match.start() in starts, (text, match)
