"""Triage's own memory, kept in the stream so every decision is a function of the stream.

A worker that crashes redoes its batch; "has this person reported this before" and "which incident is this"
must then come out the same. So both live in aggregates with deterministic ids, loaded and saved in the
same unit of work as the complaint: a contact index per (reporter, category) and a cluster per
(district, category, time bucket). Their topics are ``services.triage.indexes:...``; nothing outside
triage reads them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from events.geo import KM_PER_DEGREE, within_km
from events.twins import Twin

NAMESPACE = UUID("6f1d8a52-3c1e-5b7a-9d4e-1e2f3a4b5c6d")
Member = dict[str, Any]  # {complaint_id, contact, lat, lon, district, at}


@functools.lru_cache(maxsize=8192)
def derived_id(name: str) -> UUID:
    """The id `name` stands for. Kept: a batch asks for each contact index and cluster id three times or
    more (planning, loading, creating), and uuid5 costs about 2 µs a call."""
    return uuid5(NAMESPACE, name)


def near(a: Member, b: Member, km: float) -> bool:
    """Close in place: within `km` when both have coordinates, else the same district."""
    if None not in (a["lat"], a["lon"], b["lat"], b["lon"]):
        return within_km(a["lat"], a["lon"], b["lat"], b["lon"], km)
    return bool(a["district"] == b["district"])


def member(complaint_id: UUID, contact: str | None, lat: float | None, lon: float | None,
           district: str | None, at: datetime) -> Member:  # fmt: skip
    return {"complaint_id": str(complaint_id), "contact": contact, "lat": lat, "lon": lon,
            "district": district, "at": at.isoformat()}  # fmt: skip


def _before_change(cluster: Cluster, index: int) -> None:
    """Group `index` is about to change (its dict replaced, its member list grown): if the cluster has a twin
    that holds the group, record the group as it is now for it, once (Cluster.twin). At most one record per
    group the twin holds."""
    since: tuple[int, dict[int, tuple[dict[str, Any], int]]] | None = cluster.__dict__.get(
        "_changed_since_twin"
    )
    if since is not None and index < since[0] and index not in since[1]:
        group = cluster.groups[index]
        since[1][index] = (group, len(group["members"]))


class ContactIndex(Aggregate):
    """The complaints one reporter (by contact hash) made in one category."""

    def __init__(self) -> None:
        self.key = ""
        self.entries: list[Member] = []

    @staticmethod
    def index_id(contact_hash: str, category: str) -> UUID:
        return derived_id(f"contact:{contact_hash}:{category}")

    @classmethod
    def start(cls, contact_hash: str, category: str, first: Member) -> ContactIndex:
        """A reporter's first complaint in a category: the index opened with it, as one event."""
        return cls._create(ContactIndexStarted, id=cls.index_id(contact_hash, category),
                           key=f"{contact_hash}:{category}", first=dict(first))  # fmt: skip

    def earlier_reports(self, new: Member, window: timedelta, km: float) -> Iterator[UUID]:
        """Every complaint of this reporter about the same event (close in time and place), first first."""
        at = datetime.fromisoformat(new["at"])
        for entry in self.entries:
            if entry["complaint_id"] != new["complaint_id"] and abs(at - datetime.fromisoformat(entry["at"])) <= window \
                    and near(entry, new, km):  # fmt: skip
                yield UUID(entry["complaint_id"])

    def record(self, entry: Member) -> None:
        self.trigger_event(ContactReportRecorded, entry=dict(entry))


class ContactIndexOpened(ContactIndex.Created):
    """Written by earlier versions (an empty index, then ContactReportRecorded); still read."""

    class_version = 1
    key: str

    def apply(self, aggregate: ContactIndex) -> None:
        aggregate.key = self.key


class ContactIndexStarted(ContactIndex.Created):
    """Opened with its first report (ContactIndexOpened followed by ContactReportRecorded, in one event)."""

    class_version = 1
    key: str
    first: dict[str, Any]

    def apply(self, aggregate: ContactIndex) -> None:
        aggregate.key = self.key
        aggregate.entries = [dict(self.first)]


class ContactReportRecorded(ContactIndex.Event):
    class_version = 1
    entry: dict[str, Any]

    def apply(self, aggregate: ContactIndex) -> None:
        aggregate.entries = [*aggregate.entries, dict(self.entry)]


class Cluster(Aggregate):
    """Reports of one category in one district and time bucket, grouped by place into events."""

    def __init__(self) -> None:
        self.key = ""
        self.groups: list[dict[str, Any]] = []  # {members, incident_id, carried, last_at}

    def twin(self) -> Twin[Cluster]:
        """As it is now, to fall back on if a worker's changes are not stored (events/twins.py), at no cost
        of the cluster's size: a surge's cluster has thousands of groups, and a twin is made for every batch
        that touches it. From here on, each event records a group as it was before changing it the first
        time (`_before_change`); groups added later are not the twin's. The proximity grid is rebuilt when
        asked for."""
        twin = Twin(self, derived=("_proximity_index", "_changed_since_twin"))
        groups, count = self.groups, len(self.groups)
        before: dict[int, tuple[dict[str, Any], int]] = {}
        self.__dict__["_changed_since_twin"] = (count, before)

        def restore(copied: Cluster) -> None:
            copied.groups = []
            for index in range(count):
                group, length = before.get(index) or (groups[index], len(groups[index]["members"]))
                copied.groups.append({**group, "members": group["members"][:length]})

        twin.on_restore(restore)
        return twin

    @staticmethod
    def cluster_id(district: str, category: str, bucket: int) -> UUID:
        return derived_id(f"cluster:{district}:{category}:{bucket}")

    @classmethod
    def open(cls, district: str, category: str, bucket: int) -> Cluster:
        return cls._create(ClusterOpened, id=cls.cluster_id(district, category, bucket),
                           key=f"{district}:{category}:{bucket}")  # fmt: skip

    def group_for(self, new: Member, link: timedelta, km: float) -> int | None:
        """The first group with a report close in place whose last report is recent enough."""
        found = self.groups_for(new, link, km)
        return found[0] if found else None

    def groups_for(self, new: Member, link: timedelta, km: float, *, located_only: bool = False) -> list[int]:
        """Every group within reach of the new report (close in place, last report recent), in group order.
        With `located_only`, those near it by coordinates: two or more show the groups are one event (see
        `join`); a report without a location is near every group by district and bridges none."""
        at = datetime.fromisoformat(new["at"])
        return [
            index
            for index in self._proximity(km).near_groups(new, located_only=located_only)
            if at - datetime.fromisoformat(self.groups[index]["last_at"]) <= link
        ]

    def _proximity(self, km: float) -> Proximity:
        """Every group's members on one grid (kept beside the state, never stored). A surge puts thousands of
        reports in one group, and checking each against every member made triage quadratic; a small radius
        (a fallen tree's few hundred metres) makes hundreds of groups, and checking each group did too."""
        index: Proximity | None = self.__dict__.get("_proximity_index")
        if index is None or index.km != km or not index.catch_up(self.groups):
            index = self.__dict__["_proximity_index"] = Proximity(km)
            index.catch_up(self.groups)
        return index

    def add(self, group: int, entry: Member) -> None:
        self.trigger_event(ClusterMemberAdded, group=group, entry=dict(entry))

    def start_group(self, entry: Member, *, incident_id: UUID | None, carried: int,
                    carried_members: list[Member]) -> int:  # fmt: skip
        """A new group, possibly continuing one from the previous bucket (its incident, or its lone reports)."""
        self.trigger_event(
            ClusterGroupStarted, members=[*carried_members, dict(entry)],
            incident_id=str(incident_id) if incident_id else None, carried=carried,
        )  # fmt: skip
        return len(self.groups) - 1

    def set_incident(self, group: int, incident_id: UUID) -> None:
        self.trigger_event(ClusterIncidentSet, group=group, incident_id=str(incident_id))

    def join(self, into: int, groups: list[int], *, incident_id: UUID | None) -> None:
        """Move `groups` into `into` (one event after all); `incident_id` is the joined group's incident, the
        one the others' incidents were merged into (None: keep `into`'s). The emptied groups keep their place:
        events name groups by index."""
        self.trigger_event(
            ClusterGroupsJoined,
            into=into,
            groups=list(groups),
            incident_id=str(incident_id) if incident_id else None,
        )

    def size(self, group: int) -> int:
        g = self.groups[group]
        return int(g["carried"]) + len(g["members"])

    def reporters(self, group: int) -> int:
        """Distinct people: a report without a contact counts as its own person."""
        members = self.groups[group]["members"]
        return int(self.groups[group]["carried"]) + len({m["contact"] or m["complaint_id"] for m in members})


class Proximity:
    """Which groups of one cluster have a member within `km` of a new report, by a grid of cells at least `km`
    wide holding each group's members.

    Gives exactly the groups for which `any(near(m, new, km) for m in members)` holds: a member without
    coordinates (or a new report without them) is near by district, and every member of a cluster has the
    cluster's district. Members lists only grow (ClusterMemberAdded appends in place and names the group in
    `grown`) and groups are only added; `catch_up` files what is new without looking at the other groups. A
    join moves members from group to group: `join` moves them on the grid.
    """

    def __init__(self, km: float) -> None:
        self.km = km
        self.filed: list[tuple[list[Member], int]] = []  # per group: its members list, how many are filed
        self.grown: set[int] = set()  # groups given members since the last catch_up (ClusterMemberAdded)
        self.source: list[dict[str, Any]] | None = None  # the groups list it files from (the cluster's own)
        self.placeless: set[int] = set()  # groups with a member without coordinates: near every report
        self.cells: dict[tuple[int, int], dict[int, list[Member]]] = {}  # cell -> group -> its members there
        self.lat_step = km / KM_PER_DEGREE
        self.lon_step = 0.0  # set from the first member with coordinates

    def catch_up(self, groups: list[dict[str, Any]]) -> bool:
        """File the members added since (of new groups, and of those `grown` names); False when these are not
        the lists it filed from (the aggregate's state was replaced): the caller then starts a new grid."""
        if (self.source is not None and groups is not self.source) or len(groups) < len(self.filed):
            return False
        self.source = groups
        self.grown.update(range(len(self.filed), len(groups)))
        self.filed.extend((group["members"], 0) for group in groups[len(self.filed) :])
        for index in self.grown:
            members, filed = self.filed[index]
            if groups[index]["members"] is not members:
                return False
            for member in members[filed:]:
                if member["lat"] is None or member["lon"] is None:
                    self.placeless.add(index)
                else:
                    cell = self.cells.setdefault(self._cell(member["lat"], member["lon"]), {})
                    cell.setdefault(index, []).append(member)
            self.filed[index] = (members, len(members))
        self.grown.clear()
        return True

    def join(self, into: int, groups: list[int], now: list[dict[str, Any]]) -> None:
        """`groups` moved into `into` (ClusterGroupsJoined, after a `catch_up`): their filed members are
        `into`'s now, cell by cell; `now` is the cluster's groups after the join. What a join moves is a few
        groups, and filing the whole cluster again made each join cost its size."""
        for index in groups:
            members, filed = self.filed[index]
            if index in self.placeless:
                self.placeless.discard(index)
                self.placeless.add(into)
            located = members[:filed]
            for cell in {
                self._cell(m["lat"], m["lon"])
                for m in located
                if m["lat"] is not None and m["lon"] is not None
            }:
                by_group = self.cells[cell]
                by_group.setdefault(into, []).extend(by_group.pop(index))
            self.filed[index] = (now[index]["members"], 0)
        self.filed[into] = (now[into]["members"], len(now[into]["members"]))

    def near_groups(self, new: Member, *, located_only: bool = False) -> list[int]:
        """The groups with a member near `new`, in group order. A report or member without coordinates is
        near by district, so near every group; `located_only` counts only members within `km` by coordinates
        (what may show two groups are one event)."""
        if new["lat"] is None or new["lon"] is None:
            return [] if located_only else [index for index, (members, _) in enumerate(self.filed) if members]
        found = set() if located_only else set(self.placeless)
        row, column = self._cell(new["lat"], new["lon"])
        for r in (row - 1, row, row + 1):
            for c in (column - 1, column, column + 1):
                for index, members in self.cells.get((r, c), {}).items():
                    if index not in found and any(near(m, new, self.km) for m in members):
                        found.add(index)
        return sorted(found)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        if not self.lon_step:
            # A degree of longitude is shortest at the highest latitude: size cells for 5 degrees beyond.
            self.lon_step = self.km / (KM_PER_DEGREE * math.cos(math.radians(min(abs(lat) + 5, 89))))
        return math.floor(lat / self.lat_step), math.floor(lon / self.lon_step)


class ClusterOpened(Cluster.Created):
    class_version = 1
    key: str

    def apply(self, aggregate: Cluster) -> None:
        aggregate.key = self.key


class ClusterGroupStarted(Cluster.Event):
    class_version = 1
    members: list[dict[str, Any]]
    incident_id: str | None
    carried: int

    def apply(self, aggregate: Cluster) -> None:
        group = {"members": [dict(m) for m in self.members], "incident_id": self.incident_id,
                 "carried": self.carried, "last_at": self.members[-1]["at"]}  # fmt: skip
        aggregate.groups.append(group)  # in place: a twin holds the groups there were (Cluster.twin)


class ClusterMemberAdded(Cluster.Event):
    class_version = 1
    group: int
    entry: dict[str, Any]

    def apply(self, aggregate: Cluster) -> None:
        # The member list grows in place: copying every group and member list on each report made a large
        # group quadratic. The group's dict is replaced.
        _before_change(aggregate, self.group)
        group = aggregate.groups[self.group]
        group["members"].append(dict(self.entry))
        if self.entry["at"] > group["last_at"]:
            aggregate.groups[self.group] = {**group, "last_at": self.entry["at"]}
        grid: Proximity | None = aggregate.__dict__.get("_proximity_index")
        if grid is not None:
            grid.grown.add(self.group)


class ClusterGroupsJoined(Cluster.Event):
    """A report within reach of several groups showed them to be one event: `groups` moved into `into`."""

    class_version = 1
    into: int
    groups: list[int]
    incident_id: str | None

    def apply(self, aggregate: Cluster) -> None:
        # `into`'s members grow in place (as ClusterMemberAdded); each joined group gets a new empty list. The
        # proximity grid, if built, moves their members too.
        grid: Proximity | None = aggregate.__dict__.get("_proximity_index")
        if grid is not None and not grid.catch_up(aggregate.groups):
            grid = None
            del aggregate.__dict__["_proximity_index"]
        for index in (self.into, *self.groups):
            _before_change(aggregate, index)
        target = dict(aggregate.groups[self.into])
        for index in self.groups:
            joined = aggregate.groups[index]
            target["members"].extend(joined["members"])  # the same dicts: a member never changes once added
            target["carried"] = int(target["carried"]) + int(joined["carried"])
            target["last_at"] = max(target["last_at"], joined["last_at"])
            aggregate.groups[index] = {"members": [], "incident_id": None, "carried": 0,
                                       "last_at": joined["last_at"], "joined_into": self.into}  # fmt: skip
        if self.incident_id is not None:
            target["incident_id"] = self.incident_id
        aggregate.groups[self.into] = target
        if grid is not None:
            grid.join(self.into, self.groups, aggregate.groups)


class ClusterIncidentSet(Cluster.Event):
    class_version = 1
    group: int
    incident_id: str

    def apply(self, aggregate: Cluster) -> None:
        _before_change(aggregate, self.group)
        aggregate.groups[self.group] = {**aggregate.groups[self.group], "incident_id": self.incident_id}
