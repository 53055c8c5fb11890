"""The rules against hand-labelled complaints (tests/data/triage_cases.jsonl)."""

from __future__ import annotations

from services.triage.accuracy import DEFAULT_CASES, evaluate


def test_triage_rules_meet_their_accuracy_targets() -> None:
    report = evaluate(DEFAULT_CASES.read_text(encoding="utf-8").splitlines())
    categories = {line.split('"expected_category": "')[1].split('"')[0] for line in DEFAULT_CASES.read_text().splitlines() if line}  # fmt: skip
    assert report.cases >= 150
    assert len(categories) == 15  # every category code in the reference data
    assert report.p1_recall == 1.0, [m for m in report.misses if m["expected"][0] == "P1"]
    assert report.level_accuracy >= 0.85
    assert report.category_accuracy >= 0.85
