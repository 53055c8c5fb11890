"""The drill scenario generator: reproducible, realistic in shape, within the served area."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from events.reference import load_reference
from services.drill.scenario import load_scenario, submissions
from services.triage.scoring import ComplaintFacts, judge

REF = load_reference()


def plan(seed: int = 3, rate: float = 200, duration: float = 20) -> list:  # type: ignore[type-arg]
    return list(submissions(load_scenario("typhoon"), seed=seed, rate=rate, duration=duration))


def test_same_seed_gives_the_same_drill_and_another_seed_another() -> None:
    assert plan(seed=3) == plan(seed=3)
    assert plan(seed=3) != plan(seed=4)


def test_rate_and_duration_shape_the_volume() -> None:
    items = plan(rate=200, duration=20)
    assert 3400 < len(items) < 4600  # Poisson around 4,000
    assert all(0 <= a.at < b.at < 20 for a, b in pairwise(items))


def test_every_complaint_is_inside_the_served_area_with_known_codes() -> None:
    for item in plan():
        body = item.body
        assert REF.in_served_area(body["location"]["lat"], body["location"]["lon"])
        assert body["channel"] in REF.channels
        if "category" in body:
            REF.category(body["category"])  # raises for an unknown code
        if "district" in body["location"]:
            REF.district(body["location"]["district"])
        assert set(body.get("vulnerable", [])) <= set(REF.vulnerable_kinds)


def test_clusters_repeat_callers_vulnerable_people_and_both_languages_are_present() -> None:
    items = plan()
    kinds = Counter(item.incident for item in items)
    assert {"substation", "underpass", "water_main", "background", "repeat"} <= set(kinds)
    assert kinds["substation"] > kinds["water_main"]
    assert any(item.body.get("vulnerable") for item in items)
    assert any(item.body.get("media_exposure") for item in items)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in item.body["description"]) for item in items)
    assert any(item.body["description"].isascii() for item in items)
    repeats = [item for item in items if item.repeat_of is not None]
    assert all(items[r.repeat_of].body["reporter"] == r.body["reporter"] for r in repeats)


def test_idempotency_keys_are_unique_within_a_drill() -> None:
    keys = [item.idempotency_key for item in plan()]
    assert len(keys) == len(set(keys))


def test_unknown_scenario_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(ValueError, match="typhoon"):
        load_scenario("earthquake")


def test_reports_read_as_varied_as_in_a_real_surge() -> None:
    texts = [item.body["description"] for item in plan() if item.repeat_of is None]
    assert len(set(texts)) > 0.7 * len(texts)  # from 34 texts in the scenario file


@pytest.mark.parametrize("n, m", [(1, 1), (7, 3), (60, 30)])
def test_a_framing_never_changes_what_a_report_says(n: int, m: int) -> None:
    scenario = load_scenario("typhoon")
    f = scenario.framing
    for incident in scenario.incidents:
        for text in incident.texts:
            chinese = any("\u4e00" <= ch <= "\u9fff" for ch in text)
            before, after = (f.zh_before, f.zh_after) if chinese else (f.en_before, f.en_after)
            bare = judge(ComplaintFacts(description=text))
            for b in before:
                for a in after:
                    framed = (b + text + a).format(n=n, m=m)
                    verdict = judge(ComplaintFacts(description=framed))
                    said = (verdict.assessment.category, verdict.assessment.level, verdict.valid)
                    assert said == (bare.assessment.category, bare.assessment.level, bare.valid), framed


def test_a_scenarios_framing_table_is_checked_and_never_rewrites_a_report() -> None:
    from pathlib import Path
    from random import Random

    from services.drill.scenario import Framing, _framing

    with pytest.raises(ValueError, match="unknown zh_middle"):
        _framing({"zh_middle": ["x"]}, Path("city.toml"))
    with pytest.raises(ValueError, match="en_after is empty"):
        _framing({"en_after": []}, Path("city.toml"))
    framing = Framing(en_before=("Block {n}: ",))
    assert framing.frame(Random(1), "Sign says {closed}.").endswith(": Sign says {closed}.")
