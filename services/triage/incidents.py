"""Different people reporting one event: group their complaints and link them to one incident.

Never drops a report: every valid emergency complaint with a district joins a group, and a group with enough
distinct reporters becomes (or continues) an Incident. Pure bookkeeping over aggregates loaded through the
unit of work, so a redone batch makes the same groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from events.complaint import Complaint
from events.incident import Incident
from events.reference import Reference, load_reference
from events.store.aggregates import AggregateNotFound
from services.runtime.unit_of_work import UnitOfWork
from services.triage.indexes import Cluster, Member
from services.triage.rules import Rules

log = structlog.get_logger(__name__)
BY = "triage"
_MAX_CHAIN = 1000


@dataclass(frozen=True)
class Placement:
    size: int  # complaints in the group, this one included
    incident_id: UUID | None
    newest: Sequence[Member] = ()  # the group's newest other reports, at most max_rescore of them

    @property
    def members(self) -> tuple[UUID, ...]:
        """The newest others' complaint ids: read only when the group's growth changes their scores, which is
        rare (a cluster step), so not parsed for every report placed."""
        return tuple(UUID(m["complaint_id"]) for m in self.newest)


async def place(complaint: Complaint, category: str, received_at: datetime, uow: UnitOfWork,
                rules: Rules, reference: Reference) -> Placement:  # fmt: skip
    """Put the complaint in its group; declare or join the group's incident once enough people reported."""
    c = rules.clustering
    if complaint.district is None or reference.category(category).group not in c.groups:
        return Placement(1, None)
    entry = entry_for(complaint, received_at)
    bucket = int(received_at.timestamp() // (c.bucket_minutes * 60))
    reach = c.reach(category)  # a fallen tree is a point, an outage an area: see [clustering.by_category]
    link, km = reach.link, reach.nearby_km
    cluster = await _cluster(uow, complaint.district, category, bucket, create=True)
    assert cluster is not None
    near = cluster.groups_for(entry, link, km)
    if near:
        # Only a report placed near two groups by coordinates joins them: one without a location is near
        # every group of its district by that alone, and would merge every incident of the category there.
        bridged = cluster.groups_for(entry, link, km, located_only=True) if len(near) > 1 else []
        group = await _join(cluster, bridged, uow) if len(bridged) > 1 else near[0]
        cluster.add(group, entry)
    else:
        group = await _start_group(cluster, entry, complaint.district, category, bucket, uow, link, km)
    incident_id = await _incident(cluster, group, complaint, category, uow, rules, reference)
    # Only the newest few: the caller re-assesses at most max_rescore (a surge's group has thousands).
    newest = cluster.groups[group]["members"][-(c.max_rescore + 1) : -1]
    return Placement(cluster.size(group), incident_id, newest)


def entry_for(complaint: Complaint, at: datetime) -> Member:
    return {"complaint_id": str(complaint.id), "contact": complaint.contact_hash, "lat": complaint.lat,
            "lon": complaint.lon, "district": complaint.district, "at": at.isoformat()}  # fmt: skip


async def _cluster(
    uow: UnitOfWork, district: str, category: str, bucket: int, *, create: bool
) -> Cluster | None:
    cluster_id = Cluster.cluster_id(district, category, bucket)
    try:
        return await uow.get(cluster_id, Cluster)
    except AggregateNotFound:
        if not create:
            return None
        cluster = Cluster.open(district, category, bucket)
        uow.add(cluster)
        return cluster


async def _start_group(cluster: Cluster, entry: Member, district: str, category: str, bucket: int,
                       uow: UnitOfWork, link: timedelta, km: float) -> int:  # fmt: skip
    """A new group here, continuing a group of the previous bucket when that one is recent and close."""
    previous = await _cluster(uow, district, category, bucket - 1, create=False)
    before = previous.group_for(entry, link, km) if previous else None
    if previous is None or before is None:
        return cluster.start_group(entry, incident_id=None, carried=0, carried_members=[])
    old = previous.groups[before]
    if old["incident_id"]:
        return cluster.start_group(entry, incident_id=UUID(old["incident_id"]), carried=previous.size(before),
                                   carried_members=[])  # fmt: skip
    return cluster.start_group(
        entry, incident_id=None, carried=int(old["carried"]), carried_members=old["members"]
    )


async def _incident(cluster: Cluster, group: int, complaint: Complaint, category: str, uow: UnitOfWork,
                    rules: Rules, reference: Reference) -> UUID | None:  # fmt: skip
    existing = cluster.groups[group]["incident_id"]
    if existing:
        incident = await surviving(uow, UUID(existing))
        if str(incident.id) != existing:
            cluster.set_incident(group, incident.id)  # merged since: later reports need not follow the chain
        await _link(incident, [complaint.id], uow)
        return incident.id
    if cluster.reporters(group) < rules.clustering.incident_threshold:
        return None
    district = complaint.district or ""
    where = centre(cluster.groups[group]["members"])
    incident = Incident.declare(
        title=incident_title(category, district, where, reference),
        kind=category,
        districts=[district],
        declared_by="triage",
    )
    uow.add(incident)
    cluster.set_incident(group, incident.id)
    members = [UUID(m["complaint_id"]) for m in cluster.groups[group]["members"]]
    await _link(incident, members, uow)
    log.info("incident_declared", incident_id=str(incident.id), category=category, district=district,
             complaints=len(members))  # fmt: skip
    return incident.id


async def surviving(uow: UnitOfWork, incident_id: UUID) -> Incident:
    """The incident that carries on: a merged one is followed to the one it was merged into, and on. A merge
    goes only into an incident not merged itself, so the chain ends; the bound is a guard, not a rule."""
    incident = await uow.get(incident_id, Incident)
    for _ in range(_MAX_CHAIN):
        into = getattr(incident, "merged_into", None)
        if into is None:
            return incident
        incident = await uow.get(into, Incident)
    raise RuntimeError(f"incident {incident_id}: merged more than {_MAX_CHAIN} times over")


async def _join(cluster: Cluster, groups: list[int], uow: UnitOfWork) -> int:
    """A report within reach of several groups shows they are one event: one group, one incident.

    The group keeps the oldest active incident among theirs; the younger ones are merged into it (the same
    operation as command's merge; triage moves their complaints when it reads IncidentAbsorbed). Reports of a
    group that had no incident yet are linked to it here. Returns the group the report joins."""
    incidents: dict[int, Incident] = {}
    for index in groups:
        existing = cluster.groups[index]["incident_id"]
        if existing:
            incidents[index] = await surviving(uow, UUID(existing))
    distinct = {i.id: i for i in incidents.values()}
    active = [i for i in distinct.values() if i.is_active]
    # Only into an active incident: a resolved one cannot take a merge (it stays as it was).
    survivor = min(active or distinct.values(), key=lambda i: (i.created_on, str(i.id)), default=None)
    into = next((g for g in groups if survivor is not None and incidents.get(g) is survivor), groups[0])
    if survivor is not None and survivor.is_active:
        for younger in distinct.values():
            if younger.id != survivor.id:
                younger.merge_into(
                    survivor, by=BY, reason=f"one event: a report within reach of both ({cluster.key})"
                )
                log.info(
                    "incidents_merged",
                    incident_id=str(younger.id),
                    into=str(survivor.id),
                    cluster=cluster.key,
                )
    others = [g for g in groups if g != into]
    loose = [
        UUID(m["complaint_id"]) for g in others if g not in incidents for m in cluster.groups[g]["members"]
    ]
    cluster.join(into, others, incident_id=survivor.id if survivor is not None else None)
    log.info("cluster_groups_joined", cluster=cluster.key, into=into, groups=others)
    if survivor is not None:
        await _link(survivor, loose, uow)
    return into


def incident_title(
    category: str, district: str, where: tuple[float, float] | None = None, reference: Reference | None = None
) -> str:
    """What the board and command read: "Power outage in Old Town (north-east) · 老城区东北部停电".

    `where` (lat, lon), the centre of the reports that made the incident, names the ninth of the district
    it lies in: a surge makes several incidents of one kind in one district, and command tells them apart
    by where they are. Without it, "Power outage in Old Town · 老城区停电"; codes when the reference data
    (the deployment's; the packaged one when not given) does not know them."""
    ref = reference or load_reference()
    cat = next((c for c in ref.categories if c.code == category), None)
    place = next((d for d in ref.districts if d.code == district), None)
    if cat is None:
        return f"{category} in {district}" if district else category
    if place is None:
        return f"{cat.name_en} · {cat.name_zh}"
    if where is None:
        return f"{cat.name_en} in {place.name_en} · {place.name_zh}{cat.name_zh}"
    part_en, part_zh = place.bbox.part(*where)
    return f"{cat.name_en} in {place.name_en} ({part_en}) · {place.name_zh}{part_zh}{cat.name_zh}"


def centre(members: Sequence[Member]) -> tuple[float, float] | None:
    """(lat, lon) averaged over the reports that carry a location; None when none does."""
    located = [(m["lat"], m["lon"]) for m in members if m.get("lat") is not None and m.get("lon") is not None]
    if not located:
        return None
    return (sum(p[0] for p in located) / len(located), sum(p[1] for p in located) / len(located))


async def _link(incident: Incident, complaint_ids: list[UUID], uow: UnitOfWork) -> None:
    for complaint_id in complaint_ids:
        member = await uow.get(complaint_id, Complaint)
        # A closed or rejected report stays out; one staff already linked elsewhere is left where it is.
        if not member.is_open or member.incident_id is not None:
            continue
        member.link_to_incident(incident.id)
        if not incident.has_complaint(complaint_id):
            incident.link_complaint(complaint_id)
