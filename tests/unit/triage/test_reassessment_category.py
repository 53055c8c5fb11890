"""Re-assessing a case keeps the category it was validated and routed with, and says where it came from."""

from __future__ import annotations

from datetime import UTC, datetime

from events.complaint import Complaint
from services.triage import handlers
from services.triage.app import default_deps

DEPS = default_deps()
TREE = "A large tree fell across Elm Street and blocks one lane."


def category_factor(complaint: Complaint) -> dict[str, object]:
    assessment = handlers._assess(complaint, 1, datetime.now(UTC), DEPS)
    [found] = [f for f in assessment.factors if f["name"] == "category"]
    return found


def test_a_category_read_from_the_text_keeps_its_words_as_evidence() -> None:
    complaint = Complaint.receive(channel="web", description=TREE, received_by="public", lat=22.45, lon=113.8)
    complaint.validate(by="triage", category="fallen_tree", reference=DEPS.reference)
    found = category_factor(complaint)
    assert found["value"] == "fallen_tree" and "tree" in " ".join(map(str, found["evidence"])).lower()


def test_a_reporters_category_is_given_at_intake() -> None:
    complaint = Complaint.receive(
        channel="web", description=TREE, received_by="public", category="fallen_tree"
    )
    complaint.validate(by="triage", category="fallen_tree", reference=DEPS.reference)
    assert category_factor(complaint)["evidence"] == ["given at intake"]


def test_after_the_rules_changed_the_validated_category_is_scored_not_a_new_reading() -> None:
    """Validated as a road blocked (say, by older rules); the rules in use now read a fallen tree."""
    complaint = Complaint.receive(channel="web", description=TREE, received_by="public", lat=22.45, lon=113.8)
    complaint.validate(by="triage", category="road_blocked", reference=DEPS.reference)
    found = category_factor(complaint)
    assert found["value"] == "road_blocked"
    assert found["evidence"] == ["settled by triage when validated"]
