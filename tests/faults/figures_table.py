"""docs/reliability.md's result tables from the figures the fault scenarios append to $LEVEE_FAULTS_FIGURES.

    LEVEE_FAULTS_FIGURES=/tmp/faults.jsonl .venv/bin/pytest tests/faults tests/integration/cluster -p no:cacheprovider
    .venv/bin/python -m tests.faults.figures_table /tmp/faults.jsonl

Prints Markdown: one row per scenario (the last run of each in the file), the effects by kind, the cluster runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _n(value: int) -> str:
    return f"{value:,}"


def _answers(statuses: dict[str, int]) -> str:
    return ", ".join(f"{_n(n)} × {status}" for status, n in sorted(statuses.items(), key=lambda kv: -kv[1]))


def tables(rows: list[dict[str, Any]]) -> str:
    scenarios = {r["scenario"][0]: r for r in rows if "sent" in r}  # "a: ..." -> the last run of "a"
    clusters = list(
        {r["scenario"]: r for r in rows if r["scenario"].startswith("cluster")}.values()
    )  # the last
    out = [
        "| scenario | sent | last answers | tries sent again (503) | `ComplaintReceived` in stream | events in stream "
        "| dead letters | mismatches | read models = rebuild |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in sorted(scenarios.items()):
        dead = ", ".join(f"{w} {n}" for w, n in r["dead_letters"].items() if n) or "0"
        retried = _n(sum(r.get("retried", {}).values())) if r.get("retried") else "0"
        out.append(
            f"| {key} | {_n(r['sent'])} | {_answers(r['statuses'])} | {retried} | {_n(r['received_in_stream'])} "
            f"| {_n(r['events_in_stream'])} | {dead} | {len(r['mismatches'])} | "
            f"{'yes' if r['read_models_equal_rebuild'] else 'NO'} |"
        )
    kinds = sorted({k for r in scenarios.values() for k in r["effects"]})
    keys = sorted(scenarios)
    out += ["", "| effect | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for kind in kinds:
        cells = [_n(scenarios[k]["effects"][kind]) if kind in scenarios[k]["effects"] else "-" for k in keys]
        out.append(f"| {kind} | " + " | ".join(cells) + " |")
    if clusters:
        out += [
            "",
            "| cluster case | node killed | stream leader before → after | client's server before → after "
            "| writes acknowledged | of them started after the kill | first write after the kill |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in clusters:
            out.append(
                f"| {r['scenario'].removeprefix('cluster_').replace('_', ' ')} | {r['killed']} "
                f"| {r['leader_before']} → {r['leader_after']} | {r['client_server_before']} → "
                f"{r['client_server_after']} | {_n(r['acknowledged'])} | {_n(r['acknowledged_after_kill'])} "
                f"| {r['seconds_to_first_write_after_kill']:.1f} s |"
            )
    return "\n".join(out)


if __name__ == "__main__":
    lines = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
    sys.stdout.write(tables([json.loads(line) for line in lines if line.strip()]) + "\n")
