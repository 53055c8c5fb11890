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

from uuid import UUID

import asyncpg
import nats.errors

from events.complaint import Complaint
from events.incident import Incident
from events.personal import unseal
from events.publishing.erased_fingerprints import KnownPersonalData
from events.store import StoreError
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.keys import PersonalKeyStore
from services.api.keys import PG_DOWN, DependencyUnavailable

MAX_MERGES = 1000  # a merge goes into an incident not merged itself, so a chain ends; a guard, not a rule


async def for_incident(
    incident_id: UUID | None, aggregates: AggregateStore, personal_keys: PersonalKeyStore
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
        complaints, _ = await aggregates.get_many(list(members))
    except AggregateNotFound:
        return KnownPersonalData()
    except (StoreError, nats.errors.Error, TimeoutError) as exc:
        raise DependencyUnavailable("NATS", f"cannot read the incident's complaints: {exc}") from exc
    return await _known([c for c in complaints.values() if isinstance(c, Complaint)], personal_keys)


async def of_complaint(complaint: Complaint, personal_keys: PersonalKeyStore) -> KnownPersonalData:
    """The complaint's own reporter data in clear, or its fingerprints once erased (a public progress note must
    carry neither)."""
    return await _known([complaint], personal_keys)


async def _known(complaints: list[Complaint], personal_keys: PersonalKeyStore) -> KnownPersonalData:
    if not complaints:
        return KnownPersonalData()
    sealed = {c.id: c.reporter_sealed for c in complaints if c.reporter_sealed is not None}
    try:
        opened = await personal_keys.get_many(sealed) if sealed else {}
        # Erased: its redaction recorded, or its key gone and the recording failed (a retry records it).
        unopened = sealed.keys() - opened.keys()
        shut = [c.id for c in complaints if c.redacted or c.id in unopened]
        erased = await personal_keys.erased_fingerprints(shut) if shut else None
    except asyncpg.UndefinedTableError:
        return KnownPersonalData()  # no key was ever stored in this database: nothing can be opened, or leak
    except PG_DOWN as exc:
        raise DependencyUnavailable("PostgreSQL", f"cannot open the complainants' data: {exc}") from exc
    known: list[str] = []
    for cid, text in sealed.items():
        data = unseal(text, opened.get(cid))
        if data is not None:
            known += [v for v in (data.name, data.address, data.phone, data.email) if v]
    return KnownPersonalData(known, erased)
