"""Public notices about incidents: drafted by press officers, approved by command staff, then published.

Lifecycle: draft -> approved -> published; a published notice changed by ``update`` waits in ``updated``
(the public keeps seeing the last published text) until it is approved and published again.
Revising an approved notice sends it back to draft. Any state but cancelled may be cancelled.
Whoever last wrote the text cannot approve it: two people see every public word.
A draft its author never saw approved may be withdrawn by that author as superseded by a newer draft of theirs
(the notices service does so with its own progress summaries): a cancellation that names its replacement.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import DomainError, require, require_text
from events.incident import INCIDENT_STATUSES
from events.publishing.redaction import find_personal_data

# A resident ID number or a mobile number is never a legitimate part of a notice, even in a draft; official
# hotlines are short codes or landlines. The same guard as at publication (a checksum, a birth date), so a
# long order number is not refused here and passed there. Checking against the actual complainants comes at
# publication (services/api/commands_notices.py).
_NEVER_IN_A_DRAFT = frozenset({"resident_id", "mobile"})


class NoticeState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"
    UPDATED = "updated"
    CANCELLED = "cancelled"


# Who drafts an incident's progress summaries (services/notices): a later one supersedes the last published
# (CAP: an Update referencing it, events/publishing/notice_view.py).
SUMMARY_AUTHOR = "notices-service"


class Notice(Aggregate):
    def __init__(self) -> None:
        self.incident_id: UUID | None = None
        self.title_en: str = ""
        self.title_zh: str = ""
        self.body_en: str = ""
        self.body_zh: str = ""
        self.status: str = "investigating"
        self.state: NoticeState = NoticeState.DRAFT
        self.author: str = ""
        self.approved_by: str | None = None
        self.published_version: int = 0
        # What the public sees: the text as of the last NoticePublished, until cancelled.
        self.published_text: dict[str, str] | None = None
        self.cancel_reason: str | None = None
        self.superseded_by: UUID | None = None

    @classmethod
    def draft(
        cls,
        *,
        incident_id: UUID | None,
        title_en: str,
        title_zh: str,
        body_en: str,
        body_zh: str,
        status: str,
        drafted_by: str,
        id: UUID | None = None,  # as the library names it
    ) -> Notice:
        """``id``: one the caller derived (an idempotent request's); a new random one otherwise."""
        _check_text(title_en, title_zh, body_en, body_zh, status)
        require_text(drafted_by, "drafted_by")
        return cls._create(
            NoticeDrafted, id=id, incident_id=incident_id, title_en=title_en, title_zh=title_zh,
            body_en=body_en, body_zh=body_zh, status=status, drafted_by=drafted_by,
        )  # fmt: skip

    def revise(
        self, *, title_en: str, title_zh: str, body_en: str, body_zh: str, status: str, revised_by: str
    ) -> None:
        """Change text not yet published (draft, approved or a pending update); approval must be given again."""
        self._check_not_cancelled()
        require(
            self.state in (NoticeState.DRAFT, NoticeState.APPROVED, NoticeState.UPDATED),
            "already_published",
            "A published notice is changed with update, so the public text stays until the change is approved.",
        )
        _check_text(title_en, title_zh, body_en, body_zh, status)
        require_text(revised_by, "revised_by")
        self.trigger_event(
            NoticeRevised, title_en=title_en, title_zh=title_zh, body_en=body_en, body_zh=body_zh,
            status=status, revised_by=revised_by,
        )  # fmt: skip

    def approve(self, by: str, seen: str | None = None) -> None:
        """`seen`: the `text_digest` of the text the approver read. Two people see every public word only if
        the approval is of that text: revised meanwhile (a stale list, a retried request), it is refused."""
        self._check_not_cancelled()
        require(
            self.state in (NoticeState.DRAFT, NoticeState.UPDATED),
            "nothing_to_approve",
            f"Only a draft or an update waits for approval; this notice is {self.state}.",
        )
        require_text(by, "by")
        require(
            by != self.author, "approver_is_author", "Someone other than the author must approve the text."
        )
        require(
            seen is None or seen == self.text_digest(),
            "text_changed",
            "The text changed since you read it: read it again, then approve.",
        )
        self.trigger_event(NoticeApproved, by=by)

    def text_digest(self) -> str:
        return text_digest(self.title_en, self.title_zh, self.body_en, self.body_zh, self.status)

    def publish(self) -> None:
        self.require_publishable()
        self.trigger_event(
            NoticePublished, title_en=self.title_en, title_zh=self.title_zh, body_en=self.body_en,
            body_zh=self.body_zh, status=self.status, version=self.published_version + 1,
        )  # fmt: skip

    def update(
        self, *, title_en: str, title_zh: str, body_en: str, body_zh: str, status: str, updated_by: str
    ) -> None:
        self._check_not_cancelled()
        require(
            self.state == NoticeState.PUBLISHED,
            "not_published",
            f"Only a published notice is updated; this one is {self.state} (use revise).",
        )
        _check_text(title_en, title_zh, body_en, body_zh, status)
        require_text(updated_by, "updated_by")
        self.trigger_event(
            NoticeUpdated, title_en=title_en, title_zh=title_zh, body_en=body_en, body_zh=body_zh,
            status=status, updated_by=updated_by,
        )  # fmt: skip

    def cancel(self, reason: str, by: str) -> None:
        self._check_not_cancelled()
        require_text(reason, "reason")
        require_text(by, "by")
        self.trigger_event(NoticeCancelled, reason=reason, by=by, superseded_by=None)

    def supersede(self, replacement: UUID, by: str) -> None:
        """Withdraw this draft because `by`'s newer draft `replacement` says the same, more recently.

        Only the author's own unapproved draft: someone else's text, or text command has approved (press may
        still publish it), is never withdrawn this way."""
        self._check_not_cancelled()
        require_text(by, "by")
        require(
            self.state == NoticeState.DRAFT,
            "not_a_draft",
            f"Only a draft not yet approved is superseded; this notice is {self.state}.",
        )
        require(by == self.author, "not_the_author", "Only a draft's author withdraws it as superseded.")
        require(replacement != self.id, "supersedes_itself", "A draft cannot supersede itself.")
        self.trigger_event(
            NoticeCancelled, reason=f"Superseded by draft {replacement}", by=by, superseded_by=replacement
        )

    def require_publishable(self) -> None:
        """Approved and not yet published or cancelled. The API checks this before it runs the personal-data
        guard, whose answer names what it found: on an unapproved draft it would tell a press officer
        whether any name they try is a complainant's."""
        self._check_not_cancelled()
        require(self.state != NoticeState.PUBLISHED, "already_published", "This text is already published.")
        require(
            self.state == NoticeState.APPROVED,
            "not_approved",
            "Command staff must approve this text before it is published.",
        )

    def _check_not_cancelled(self) -> None:
        require(self.state != NoticeState.CANCELLED, "notice_cancelled", "The notice was cancelled.")


def text_digest(title_en: str, title_zh: str, body_en: str, body_zh: str, status: str) -> str:
    """A notice's working text as one SHA-256 (hex): what an approval says it approved."""
    text = json.dumps([title_en, title_zh, body_en, body_zh, status], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_text(title_en: str, title_zh: str, body_en: str, body_zh: str, status: str) -> None:
    texts = {"title_en": title_en, "title_zh": title_zh, "body_en": body_en, "body_zh": body_zh}
    for field, value in texts.items():
        require_text(value, field)
        if never := [f for f in find_personal_data(value) if f.kind in _NEVER_IN_A_DRAFT]:
            raise DomainError(
                "contains_personal_data",
                "A notice must not carry an ID number or a personal phone number.",
                field=field,
                found=[{"field": field, "kind": f.kind, "excerpt": f.masked} for f in never],
            )
    require(status in INCIDENT_STATUSES, "unknown_status", f"{status!r} is not one of {INCIDENT_STATUSES}.")


class NoticeDrafted(Notice.Created):
    class_version = 1
    incident_id: UUID | None
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    status: str
    drafted_by: str

    def apply(self, aggregate: Notice) -> None:
        aggregate.incident_id = self.incident_id
        _set_text(aggregate, self.title_en, self.title_zh, self.body_en, self.body_zh, self.status)
        aggregate.author = self.drafted_by


class NoticeRevised(Notice.Event):
    class_version = 1
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    status: str
    revised_by: str

    def apply(self, aggregate: Notice) -> None:
        _set_text(aggregate, self.title_en, self.title_zh, self.body_en, self.body_zh, self.status)
        aggregate.author = self.revised_by
        aggregate.approved_by = None
        # A revised pending update is still an update of a published notice.
        if aggregate.state == NoticeState.APPROVED:
            aggregate.state = NoticeState.UPDATED if aggregate.published_version else NoticeState.DRAFT


class NoticeApproved(Notice.Event):
    class_version = 1
    by: str

    def apply(self, aggregate: Notice) -> None:
        aggregate.state = NoticeState.APPROVED
        aggregate.approved_by = self.by


class NoticePublished(Notice.Event):
    """Carries the text it made public, so a public feed needs no other event to show it."""

    class_version = 1
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    status: str
    version: int

    def apply(self, aggregate: Notice) -> None:
        aggregate.state = NoticeState.PUBLISHED
        aggregate.published_version = self.version
        aggregate.published_text = {
            "title_en": self.title_en, "title_zh": self.title_zh, "body_en": self.body_en,
            "body_zh": self.body_zh, "status": self.status,
        }  # fmt: skip


class NoticeUpdated(Notice.Event):
    class_version = 1
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    status: str
    updated_by: str

    def apply(self, aggregate: Notice) -> None:
        _set_text(aggregate, self.title_en, self.title_zh, self.body_en, self.body_zh, self.status)
        aggregate.state = NoticeState.UPDATED
        aggregate.author = self.updated_by
        aggregate.approved_by = None


class NoticeCancelled(Notice.Event):
    # v2 added superseded_by: the newer draft that replaced this one (Notice.supersede), None for a
    # withdrawal by a person.
    class_version = 2
    reason: str
    by: str
    superseded_by: UUID | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["superseded_by"] = None

    def apply(self, aggregate: Notice) -> None:
        aggregate.state = NoticeState.CANCELLED
        aggregate.cancel_reason = self.reason
        aggregate.superseded_by = self.superseded_by


def _set_text(
    aggregate: Notice, title_en: str, title_zh: str, body_en: str, body_zh: str, status: str
) -> None:
    aggregate.title_en, aggregate.title_zh = title_en, title_zh
    aggregate.body_en, aggregate.body_zh = body_en, body_zh
    aggregate.status = status


NOTICE_EVENTS: tuple[type[Notice.Event], ...] = (
    NoticeDrafted, NoticeRevised, NoticeApproved, NoticePublished, NoticeUpdated, NoticeCancelled,
)  # fmt: skip
