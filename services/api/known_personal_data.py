"""What public text must not name: the personal data of the complaints it is about.

A notice about an incident: every complaint linked to it. A public progress note: its own complaint.

The redaction guard (events.publishing.redaction) finds phones, ID numbers and emails by their shape; a
complainant's name or street address has none, so publishing looks them up: the incident's complaints, their
sealed reporter data, opened with each complaint's key. An erased key opens nothing; the fingerprints kept
when it was erased (events.publishing.erased_fingerprints) come instead, in the same list, so every caller
that hands the list to the guard checks the erased complainants too. A complaint erased before fingerprints
existed has none: the guard finds its reporter's phone and email by their shape only, not the name.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

import asyncpg
import nats.errors
import structlog

from events.complaint import Complaint, ComplaintReceived
from events.incident import Incident
from events.personal import unseal
from events.publishing.erased_fingerprints import KnownPersonalData
from events.store import StoreError
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.keys import PersonalKeyStore
from services.api.keys import PG_DOWN, DependencyUnavailable
from services.api.problems import Problem

log = structlog.get_logger(__name__)

MAX_MERGES = 1000  # a merge goes into an incident not merged itself, so a chain ends; a guard, not a rule
REMEMBERED = 100_000  # complaints whose sealed reporter data a process keeps (about 40 MB, all sealed)
# A linked complaint the stream does not show yet (a replica a moment behind) is asked for again this often.
MISSING_READS = 3
MISSING_PAUSE = 0.05


class SealedReporters:
    """Each complaint's reporter data as intake sealed it (None: no reporter given), by complaint id.

    Read from the complaint's first event (ComplaintReceived), which never changes: an erasure shreds the key,
    and the key store then opens nothing and gives the fingerprints instead. So a notice on an incident of
    thousands of complaints reads only those linked since the last notice, and each by its first message
    rather than its whole history (a complaint read whole took 0.6-1.9 ms on a drill's stream, and the first
    notice on an incident of 7,700 complaints took 4.4 s; a history held nothing else the guard needs)."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._sealed: OrderedDict[UUID, str | None] = OrderedDict()
        self._remembered = remembered

    async def of(self, complaint_ids: Iterable[UUID], aggregates: AggregateStore) -> dict[UUID, str | None]:
        """Every complaint's, or StoreError naming those the stream does not show: the guard never checks a
        text against fewer complainants than the incident has."""
        ids = list(dict.fromkeys(complaint_ids))
        found = {c: self._sealed[c] for c in ids if c in self._sealed}
        missing = {aggregates.store.spec.event_subject(c): c for c in ids if c not in found}
        for attempt in range(MISSING_READS):
            if not missing:
                break
            if attempt:
                await asyncio.sleep(MISSING_PAUSE)  # a replica catching up: a short pause, not a condition
            for message in await aggregates.store.first_messages(list(missing)):
                complaint_id = missing.pop(message.subject)
                try:
                    received = aggregates.to_domain_event(complaint_id, message)
                except Exception as exc:
                    raise unreadable(
                        complaint_id, f"its first event cannot be read: {type(exc).__name__}"
                    ) from exc
                if not isinstance(received, ComplaintReceived):
                    raise unreadable(complaint_id, f"its first event is a {type(received).__name__}")
                found[complaint_id] = self._sealed[complaint_id] = received.reporter_sealed
        if missing:
            shown = ", ".join(str(c) for c in list(missing.values())[:3])
            raise StoreError(f"{len(missing)} linked complaints not found in the stream ({shown})")
        for complaint_id in ids:
            if complaint_id in self._sealed:  # another notice's reads may have pushed it out meanwhile
                self._sealed.move_to_end(complaint_id)
        while len(self._sealed) > self._remembered:
            self._sealed.popitem(last=False)
        return found


def unreadable(complaint_id: UUID, why: str) -> Problem:
    """A linked complaint's history the guard cannot read: a fault in the data, not an outage (a 503 would tell the
    client to try again for ever). The notice is not published unchecked."""
    log.error("complaint_unreadable", complaint_id=str(complaint_id), why=why)
    return Problem(
        500, "A linked complaint cannot be read",
        f"Complaint {complaint_id} is linked to the incident, but {why}: the notice is not published unchecked "
        "against its complainant. Ask an operator (docs/operations.md, section 5: a poison event).",
        code="complaint_unreadable",
    )  # fmt: skip


async def for_incident(
    incident_id: UUID | None,
    aggregates: AggregateStore,
    personal_keys: PersonalKeyStore,
    reporters: SealedReporters,
) -> KnownPersonalData:
    """Names, addresses, phones and emails of the incident's complainants, in clear, and the fingerprints of
    those erased; empty without an incident.
    A merged incident's notice reaches the complainants of the one it was merged into (their status page lists
    it): theirs too, along the chain of merges.

    Raises DependencyUnavailable (a 503) when NATS or PostgreSQL cannot say: a notice is never published
    unchecked."""
    if incident_id is None:
        return KnownPersonalData()
    try:
        incident = await aggregates.get(incident_id, Incident)
        members = dict.fromkeys(incident.complaint_ids)
        for _ in range(MAX_MERGES):
            if (into := getattr(incident, "merged_into", None)) is None:
                break
            incident = await aggregates.get(into, Incident)
            members.update(dict.fromkeys(incident.complaint_ids))
        sealed = await reporters.of(members, aggregates)
    except AggregateNotFound:
        return KnownPersonalData()
    except (StoreError, nats.errors.Error, TimeoutError) as exc:
        raise DependencyUnavailable("NATS", f"cannot read the incident's complaints: {exc}") from exc
    return await _known(sealed, set(), personal_keys)


async def of_complaint(complaint: Complaint, personal_keys: PersonalKeyStore) -> KnownPersonalData:
    """The complaint's own reporter data in clear, or its fingerprints once erased (a public progress note must
    carry neither)."""
    redacted = {complaint.id} if complaint.redacted else set()
    return await _known({complaint.id: complaint.reporter_sealed}, redacted, personal_keys)


async def _known(
    reporters: dict[UUID, str | None], redacted: set[UUID], personal_keys: PersonalKeyStore
) -> KnownPersonalData:
    """`reporters`: each complaint's sealed reporter data (None: none); `redacted`: those known to be erased."""
    if not reporters:
        return KnownPersonalData()
    sealed = {cid: text for cid, text in reporters.items() if text is not None}
    try:
        opened = await personal_keys.get_many(sealed) if sealed else {}
        # Erased: its redaction recorded, or its key gone (an erasure shreds the key before it is recorded).
        shut = list(redacted | (sealed.keys() - opened.keys()))
        erased = await personal_keys.erased_fingerprints(shut) if shut else None
    except asyncpg.UndefinedTableError:
        return KnownPersonalData()  # no key was ever stored in this database: nothing can be opened, or leak
    except PG_DOWN as exc:
        raise DependencyUnavailable("PostgreSQL", f"cannot open the complainants' data: {exc}") from exc
    known: list[str] = []
    for cid, text in sealed.items():
        data = unseal(text, opened.get(cid))
        if data is not None:
            known += data.guarded()
    return KnownPersonalData(known, erased)
