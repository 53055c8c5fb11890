"""The rules against hand-labelled complaints (tests/data/triage_cases.jsonl)."""

from __future__ import annotations

import json

from events.reference import load_reference
from services.triage.accuracy import DEFAULT_CASES, HOLDOUT_CASES, evaluate


def test_triage_rules_meet_their_accuracy_targets() -> None:
    report = evaluate(DEFAULT_CASES.read_text(encoding="utf-8").splitlines())
    categories = {line.split('"expected_category": "')[1].split('"')[0] for line in DEFAULT_CASES.read_text().splitlines() if line}  # fmt: skip
    assert report.cases >= 210
    assert len(categories) == 15  # every category code in the reference data
    assert report.p1_recall == 1.0, [m for m in report.misses if m["expected"][0] == "P1"]
    assert report.level_accuracy >= 0.85
    assert report.category_accuracy >= 0.85


def test_the_held_out_cases_are_labelled_like_the_tuned_ones() -> None:
    """No target here on purpose: a threshold on the hold-out would invite tuning on it (docs/triage.md has
    its figures). It must stay a usable, separately written set."""
    lines = [line for line in HOLDOUT_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [json.loads(line) for line in lines]
    tuned = {
        json.loads(line)["description"]
        for line in DEFAULT_CASES.read_text(encoding="utf-8").splitlines()
        if line
    }
    codes = {c.code for c in load_reference().categories}
    assert len(cases) >= 30
    assert not tuned & {case["description"] for case in cases}  # never also a tuning case
    for case in cases:
        assert case["expected_level"] in ("P1", "P2", "P3", "P4") and case["expected_category"] in codes
        assert case["life_threatening"] == (case["expected_level"] == "P1")
    assert evaluate(lines).cases == len(cases)
