"""Notices: nothing reaches the public without a second person's approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from events.errors import DomainError
from events.mapper import make_mapper, make_transcoder
from events.notice import Notice, NoticeCancelled, NoticeState

TEXT: dict[str, str] = {
    "title_en": "Flooding in Westbay", "title_zh": "西湾区内涝",
    "body_en": "Crews are pumping; avoid Harbour Road.", "body_zh": "正在抽水，请避开海港路。",
    "status": "investigating",
}  # fmt: skip


REPLACEMENT = UUID("0b9f7d0e-6a51-4c43-9f4e-3d2f6f0d8a11")


def _text(**overrides: str) -> dict[str, Any]:
    return {**TEXT, **overrides}


def _draft() -> Notice:
    return Notice.draft(incident_id=None, drafted_by="press-li", **TEXT)


def _notice_in(state: str) -> Notice:
    notice = _draft()
    if state in ("approved", "published", "updated", "cancelled"):
        notice.approve("cmd-wu")
    if state in ("published", "updated"):
        notice.publish()
    if state == "updated":
        notice.update(updated_by="press-li", **_text(body_en="Water receding.", status="monitoring"))
    if state == "cancelled":
        notice.cancel("Issued in error", "cmd-wu")
    notice.collect_events()
    return notice


def test_notice_life_keeps_the_public_text_until_an_update_is_approved() -> None:
    notice = _notice_in("published")
    assert notice.published_text == TEXT
    assert notice.published_version == 1

    notice.update(updated_by="press-li", **_text(body_en="Water receding.", status="monitoring"))
    assert notice.state == NoticeState.UPDATED
    assert notice.published_text == TEXT  # the public still sees version 1

    notice.approve("cmd-wu")
    notice.publish()
    assert notice.published_text is not None and notice.published_text["status"] == "monitoring"
    assert notice.published_version == 2

    notice.cancel("Incident over", "cmd-wu")
    assert [type(e).__name__ for e in notice.collect_events()] == [
        "NoticeUpdated", "NoticeApproved", "NoticePublished", "NoticeCancelled",
    ]  # fmt: skip


def test_revising_an_approved_draft_needs_approval_again() -> None:
    notice = _notice_in("approved")
    notice.revise(revised_by="press-zhao", **_text(title_en="Flooding in Westbay and Riverside"))
    assert (notice.state, notice.approved_by) == (NoticeState.DRAFT, None)


def test_revising_a_pending_update_keeps_it_an_update() -> None:
    notice = _notice_in("updated")
    notice.approve("cmd-wu")
    notice.revise(revised_by="press-li", **_text(body_en="Water gone."))
    assert notice.state == NoticeState.UPDATED


REFUSALS: list[tuple[str, str, Callable[[Notice], None], str]] = [
    ("publish_unapproved_draft", "draft", lambda n: n.publish(), "not_approved"),
    ("publish_unapproved_update", "updated", lambda n: n.publish(), "not_approved"),
    ("publish_twice", "published", lambda n: n.publish(), "already_published"),
    ("author_approves_own_draft", "draft", lambda n: n.approve("press-li"), "approver_is_author"),
    ("approve_published", "published", lambda n: n.approve("cmd-wu"), "nothing_to_approve"),
    ("approve_twice", "approved", lambda n: n.approve("cmd-wu"), "nothing_to_approve"),
    ("update_a_draft", "draft", lambda n: n.update(updated_by="press-li", **TEXT), "not_published"),
    ("revise_published", "published", lambda n: n.revise(revised_by="press-li", **TEXT), "already_published"),
    ("publish_cancelled", "cancelled", lambda n: n.publish(), "notice_cancelled"),
    ("cancel_twice", "cancelled", lambda n: n.cancel("again", "cmd-wu"), "notice_cancelled"),
    ("cancel_without_reason", "published", lambda n: n.cancel("", "cmd-wu"), "reason_required"),
    ("supersede_approved", "approved", lambda n: n.supersede(REPLACEMENT, "press-li"), "not_a_draft"),
    ("supersede_published", "published", lambda n: n.supersede(REPLACEMENT, "press-li"), "not_a_draft"),
    ("supersede_cancelled", "cancelled", lambda n: n.supersede(REPLACEMENT, "press-li"), "notice_cancelled"),
    (
        "supersede_someone_elses",
        "draft",
        lambda n: n.supersede(REPLACEMENT, "notices-service"),
        "not_the_author",
    ),
    ("supersede_by_itself", "draft", lambda n: n.supersede(n.id, "press-li"), "supersedes_itself"),
    (
        "update_with_id_number",
        "published",
        lambda n: n.update(updated_by="p", **_text(body_zh="联系人身份证 44030119800101123X")),
        "contains_personal_data",
    ),
    (
        "update_with_mobile_number",
        "published",
        lambda n: n.update(updated_by="p", **_text(body_en="Call Mr Li on 138 1234 5678")),
        "contains_personal_data",
    ),
    (
        "revise_unknown_status",
        "draft",
        lambda n: n.revise(revised_by="p", **_text(status="panicking")),
        "unknown_status",
    ),
    (
        "revise_blank_chinese_title",
        "draft",
        lambda n: n.revise(revised_by="p", **_text(title_zh=" ")),
        "title_zh_required",
    ),
]


@pytest.mark.parametrize(
    ("state", "command", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refused_notice_command_records_nothing(
    state: str, command: Callable[[Notice], None], code: str
) -> None:
    notice = _notice_in(state)
    with pytest.raises(DomainError) as refused:
        command(notice)
    assert refused.value.code == code
    assert notice.collect_events() == []


def test_publishing_unapproved_notice_says_why() -> None:
    with pytest.raises(DomainError, match="approve"):
        _draft().publish()


def test_hotline_short_numbers_are_not_mistaken_for_personal_data() -> None:
    notice = Notice.draft(incident_id=None, drafted_by="press-li", **_text(body_en="Call 12345 for help."))
    assert notice.body_en == "Call 12345 for help."


def test_a_draft_superseded_by_its_author_is_cancelled_naming_its_replacement() -> None:
    notice = _draft()
    notice.collect_events()
    notice.supersede(REPLACEMENT, "press-li")
    (event,) = notice.collect_events()
    assert isinstance(event, NoticeCancelled)
    assert (event.superseded_by, event.by) == (REPLACEMENT, "press-li")
    assert str(REPLACEMENT) in event.reason
    assert (notice.state, notice.superseded_by) == (NoticeState.CANCELLED, REPLACEMENT)
    stored = make_mapper().to_stored_event(event)
    assert make_mapper().to_domain_event(stored) == event


def test_a_withdrawal_names_no_replacement() -> None:
    notice = _notice_in("cancelled")
    assert (notice.state, notice.superseded_by, notice.cancel_reason) == (
        "cancelled",
        None,
        "Issued in error",
    )


def test_version_1_notice_cancelled_is_upcast_with_no_replacement() -> None:
    """v2 carries superseded_by; a cancellation stored before it was a person's withdrawal."""
    notice = _draft()
    (drafted,) = notice.collect_events()
    v1_state = {"timestamp": datetime(2024, 7, 1, 9, 31, tzinfo=UTC), "originator_topic": "events.notice:Notice",
                "reason": "Issued in error", "by": "cmd-wu"}  # fmt: skip
    stored = StoredEvent(
        originator_id=notice.id, originator_version=2, topic="events.notice:NoticeCancelled",
        state=make_transcoder().encode(v1_state),
    )  # fmt: skip
    cancelled = make_mapper().to_domain_event(stored)
    assert isinstance(cancelled, NoticeCancelled) and cancelled.superseded_by is None
    folded = cancelled.mutate(drafted.mutate(None))
    assert folded is not None
    assert (folded.state, folded.cancel_reason, folded.superseded_by) == (
        "cancelled",
        "Issued in error",
        None,
    )
