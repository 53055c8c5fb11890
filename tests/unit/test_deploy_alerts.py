"""deploy/prometheus/levee-alerts.yaml: well formed, and every Levee metric and label it uses exists in the code.

An alert on a metric renamed since, or on a label it never had, never fires: nobody learns until the night it
should have."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import projections.metrics
import services.api.contact_secret_check
import services.api.metrics
import services.dispatch.metrics
import services.notices.metrics
import services.runtime.metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "levee-alerts.yaml"
SELECTOR = re.compile(r"(levee_[a-z_]+)(?:\{([^}]*)\})?")
REGISTERED = (
    projections.metrics,
    services.api.contact_secret_check,
    services.api.metrics,
    services.runtime.metrics,
    services.dispatch.metrics,
    services.notices.metrics,
)  # imported: registered


# Made at the API's first good read of the stream or first scrape (services/api/metrics.py), unlabelled.
LAZY = {name for name, _ in services.api.metrics.STREAM_GAUGES.values()} | {
    "levee_stream_read_timestamp_seconds",
    services.api.metrics.NATS_CONNECTED,  # at its first scrape
}


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


SCRAPE = ROOT / "deploy" / "prometheus" / "scrape.yaml"
PROCESSES = ("api", "triage", "dispatch", "notices", "projector")


def test_the_shipped_scrape_configs_give_each_process_the_job_the_rules_expect() -> None:
    """Found by a review: no scrape config was shipped, and an annotation-based one names every pod's job
    "kubernetes-pods": `up{job=~"levee-.*"}` matched nothing and LeveeProcessDown could never fire."""
    configs = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))["scrape_configs"]
    static = {c["job_name"]: c["static_configs"][0]["targets"] for c in configs if "static_configs" in c}
    assert static == {
        f"levee-{p}": [f"{p}:8080" if p == "api" else f"{p}:9100"] for p in PROCESSES
    }  # compose's service names and ports
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert set(PROCESSES) <= set(compose)
    [kubernetes] = [c for c in configs if "kubernetes_sd_configs" in c]
    relabel = {r.get("target_label"): r for r in kubernetes["relabel_configs"]}
    assert relabel["job"]["source_labels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    for process in PROCESSES:  # the label the job is taken from is levee-<process> on each Deployment's pods
        [deployment] = [
            d
            for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / f"{process}.yaml").read_text())
            if d and d.get("kind") == "Deployment"
        ]
        pod = deployment["spec"]["template"]["metadata"]
        assert pod["labels"]["app.kubernetes.io/name"] == f"levee-{process}", process
        assert pod["annotations"]["prometheus.io/scrape"] == "true", process
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    [missing] = [rule for rule in rules if rule["alert"] == "LeveeProcessMissing"]
    assert all(f'absent(up{{job="levee-{p}"}})' in missing["expr"] for p in PROCESSES)
