"""The rules against hand-labelled complaints (tests/data/triage_cases.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from events.reference import load_reference
from services.triage.accuracy import DEFAULT_CASES, HOLDOUT2_CASES, HOLDOUT_CASES, evaluate


def test_triage_rules_meet_their_accuracy_targets() -> None:
    report = evaluate(DEFAULT_CASES.read_text(encoding="utf-8").splitlines())
    categories = {line.split('"expected_category": "')[1].split('"')[0] for line in DEFAULT_CASES.read_text().splitlines() if line}  # fmt: skip
    assert report.cases >= 210
    assert len(categories) == 15  # every category code in the reference data
    assert report.p1_recall == 1.0, [m for m in report.misses if m["expected"][0] == "P1"]
    assert report.level_accuracy >= 0.85
    assert report.category_accuracy >= 0.85


def _cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _assert_labelled_like_the_tuned_ones(path: Path, at_least: int) -> None:
    cases = _cases(path)
    codes = {c.code for c in load_reference().categories}
    assert len(cases) >= at_least
    for case in cases:
        assert case["expected_level"] in ("P1", "P2", "P3", "P4") and case["expected_category"] in codes
        assert case["life_threatening"] == (case["expected_level"] == "P1")
    assert evaluate(path.read_text(encoding="utf-8").splitlines()).cases == len(cases)


def test_the_seen_hold_out_is_labelled_like_the_tuned_ones() -> None:
    """The first hold-out's misses were moved into the tuned set (docs/triage.md): it may overlap it now."""
    _assert_labelled_like_the_tuned_ones(HOLDOUT_CASES, at_least=30)


def test_the_fresh_hold_out_is_labelled_like_the_tuned_ones_and_shares_no_case() -> None:
    """No target here on purpose: a threshold on the hold-out would invite tuning on it (docs/triage.md has
    its figures). It must stay a usable, separately written set."""
    _assert_labelled_like_the_tuned_ones(HOLDOUT2_CASES, at_least=40)
    fresh = {case["description"] for case in _cases(HOLDOUT2_CASES)}
    seen = {case["description"] for path in (DEFAULT_CASES, HOLDOUT_CASES) for case in _cases(path)}
    assert not fresh & seen  # never also a tuning or an earlier hold-out case
