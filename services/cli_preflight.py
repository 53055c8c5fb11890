"""What `levee up` checks before it starts anything: the deployment's own data files, loaded as the services load them.

A composition root beside services/cli.py: it knows the services whose files it loads; the launcher is handed it.

A typo in LEVEE_REFERENCE, LEVEE_TRIAGE_RULES or the routing table stops triage or dispatch at their start: under
`levee up` they were restarted with backoff for ever, the reason repeated in their log among everything else. Now
the launcher says it once and starts nothing. (`levee serve` alone fails at its start, as before.)
"""

from __future__ import annotations

from events.reference import load_reference
from services.dispatch.app import routing_file
from services.dispatch.rules import load_routing
from services.settings import Settings
from services.triage.app import default_deps


def data_file_problem(settings: Settings) -> str | None:
    """Why the configured reference data, triage rules or routing table cannot be used; None when they can."""
    try:
        reference = load_reference(settings.reference_file)
        default_deps(settings.triage_rules, settings.reference_file)
        load_routing(reference, routing_file(settings))
    except (
        Exception
    ) as exc:  # whatever stops a service's start: a missing file, bad TOML, a rule naming nothing
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None
