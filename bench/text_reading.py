"""How long triage takes to read a complaint's text it has never seen (category, danger, distress, people...).

    .venv/bin/python bench/text_reading.py [--rounds 5] [--drill-seconds 12.5]

Judges every complaint of the three labelled sets (tests/data/triage_*.jsonl) and of a framed typhoon drill
(`--drill-seconds` at 400/s, in drill order) with a fresh memo and the shared text cache cleared each round,
so every text is read cold, as in a surge of distinct reports. Prints µs per complaint, the best of
`--rounds`, in CPU time. No server: the same `judge` the worker calls. Also prints a digest of every verdict, so a
change meant only to be faster can show it decided nothing differently, and the cost of the API's life-first
reading of the same texts (services/api/operator_reference.py: triage's danger reading, asked at intake).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from events.reference import load_reference
from services.api.operator_reference import life_first
from services.drill.scenario import load_scenario, submissions
from services.triage.explain import facts_from_body
from services.triage.lexicon import Text
from services.triage.rules import load_rules
from services.triage.scoring import ComplaintFacts, TextMemo, Verdict, judge

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def labelled() -> list[ComplaintFacts]:
    return [
        facts_from_body(json.loads(line))
        for path in sorted(DATA.glob("triage_*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def drill(seconds: float) -> list[ComplaintFacts]:
    scenario = load_scenario("typhoon")
    return [facts_from_body(s.body) for s in submissions(scenario, seed=1, rate=400, duration=seconds)]


def read_all(cases: list[ComplaintFacts]) -> tuple[float, list[Verdict]]:
    """CPU seconds to judge every case cold, and the verdicts."""
    Text.of.cache_clear()
    memo = TextMemo(load_rules(), load_reference())
    started = time.process_time()  # CPU time: steadier than the clock on a shared machine
    verdicts = [judge(facts, memo=memo) for facts in cases]
    return time.process_time() - started, verdicts


def digest(verdicts: list[Verdict]) -> str:
    text = json.dumps([[v.valid, v.reason, v.assessment.score, v.assessment.level, v.assessment.category,
                        v.assessment.factors] for v in verdicts], sort_keys=True, ensure_ascii=False)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def life_first_all(cases: list[ComplaintFacts]) -> tuple[float, int]:
    """CPU seconds for the API's life-first reading of every text cold (intake, Open311 and the card ask it of
    each complaint), and how many show the box."""
    Text.of.cache_clear()
    life_first(cases[0].description)  # the guide and the rules loaded, as in a running API
    Text.of.cache_clear()
    started = time.process_time()
    boxes = sum(1 for facts in cases if life_first(facts.description) is not None)
    return time.process_time() - started, boxes


def main(args: argparse.Namespace) -> None:
    for name, cases in (("labelled cases", labelled()), ("framed drill", drill(args.drill_seconds))):
        best, verdicts = min((read_all(cases) for _ in range(args.rounds)), key=lambda r: r[0])
        distinct = len({facts.description for facts in cases})
        sys.stdout.write(
            f"{name}: {len(cases):,} complaints ({distinct:,} distinct texts)   "
            f"{best / len(cases) * 1e6:.0f} µs per complaint (best of {args.rounds})   "
            f"verdicts {digest(verdicts)}\n"
        )
        first, boxes = min(life_first_all(cases) for _ in range(args.rounds))
        sys.stdout.write(
            f"{'':>{len(name)}}  the API's life-first reading: {first / len(cases) * 1e6:.0f} µs per complaint, "
            f"{boxes:,} boxes\n"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--drill-seconds", type=float, default=12.5)
    main(parser.parse_args())
