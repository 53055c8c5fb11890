"""Dependency direction (STYLE habit 13): events <- services, events <- projections; services never import each
other or projections. The CLI (`services/cli.py`) is the one composition root allowed to know every process."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Shared building blocks any service may use: they are libraries, not services.
SHARED = (
    "services.runtime", "services.embedded", "services.settings", "services.logging_setup",
    # Triage's rules: pure functions over a text and a rules file, read by the worker and by the API's life-first
    # card, so the two never disagree about a danger to life (they did, with a lexicon each: found by a review).
    "services.triage.lexicon", "services.triage.rules", "services.triage.scoring",
)  # fmt: skip
COMPOSITION_ROOTS = {
    "services/cli.py",
    "services/cli_tokens.py",
    "services/cli_deadletters.py",
    "services/cli_preflight.py",
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in ("events", "services", "projections")}


def owner(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[0] == "services" and len(parts) > 2:
        return f"services.{parts[1]}"
    return ".".join(parts)


def violations() -> list[str]:
    found = []
    for top in ("events", "services", "projections"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative in COMPOSITION_ROOTS:
                continue
            me = owner(path)
            for name in imports(path):
                if top == "events" and not name.startswith("events"):
                    found.append(f"{relative} imports {name}: events/ depends on nothing of ours")
                elif top == "projections" and name.startswith("services"):
                    found.append(f"{relative} imports {name}: projections never import services")
                elif top == "services" and name.startswith("projections"):
                    found.append(f"{relative} imports {name}: services never import projections")
                elif (
                    top == "services"
                    and name.startswith("services")
                    and not name.startswith((me, *SHARED))
                    and not (me.startswith(SHARED) and name.startswith(SHARED))
                ):
                    found.append(f"{relative} imports {name}: services never import each other")
    return found


def test_dependencies_point_the_right_way() -> None:
    assert violations() == []


def test_the_scanner_finds_absolute_imports_of_our_packages(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "import json\nfrom services.triage import rules\nimport projections.queries\nfrom . import x\n"
    )
    assert imports(module) == {"services.triage", "projections.queries"}
