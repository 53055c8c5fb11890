"""deploy/prometheus/levee-alerts.yaml: well formed, and every Levee metric and label it uses exists in the code.

An alert on a metric renamed since, or on a label it never had, never fires: nobody learns until the night it
should have."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import projections.metrics
import services.api.metrics
import services.runtime.metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "levee-alerts.yaml"
SELECTOR = re.compile(r"(levee_[a-z_]+)(?:\{([^}]*)\})?")
REGISTERED = (projections.metrics, services.api.metrics, services.runtime.metrics)  # imported: registered


# Made at the API's first good read of the stream (services/api/metrics.py), unlabelled.
LAZY = {name for name, _ in services.api.metrics.STREAM_GAUGES.values()} | {"levee_stream_read_timestamp_seconds"}


def _labels(metric: str) -> set[str]:
    if metric in LAZY:
        return set()
    collector = REGISTRY._names_to_collectors.get(metric)
    assert collector is not None, f"{metric}: no such metric in the code"
    return set(getattr(collector, "_labelnames", ()))


def test_the_rules_are_well_formed_and_say_where_the_runbook_is() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    assert len({rule["alert"] for rule in rules}) == len(rules) >= 8
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("page", "warning"), rule
        assert rule["annotations"]["summary"] and "docs/operations.md" in rule["annotations"]["runbook"], rule


def test_every_metric_and_label_the_rules_use_exists() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    used = 0
    for rule in rules:
        for metric, selector in SELECTOR.findall(rule["expr"]):
            labels = {part.split("=")[0].strip().rstrip("!~") for part in selector.split(",") if part.strip()}
            assert labels <= _labels(metric), (
                f"{rule['alert']}: {metric} has no label {labels - _labels(metric)}"
            )
            used += 1
    assert used >= 10
