"""A three-node JetStream cluster on loopback with an R3 stream: a node dies under load, nothing acknowledged
is lost, and writing carries on.

The load's client is connected to the stream's leader, given that node's URL alone: it learns the others from
the cluster's INFO. Killing the leader then tests both a stream leader election and the client's reconnect to
a survivor; killing a follower (not the client's server) shows that writing carries on without either.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import structlog
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore, StoreUnavailable, Write
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer
from tests.support.nats_cluster import (
    running_cluster,
    stream_leader,
    wait_for_agreed_leader,
    wait_for_stream_leader,
)
from tests.support.waiting import wait_until

log = structlog.get_logger(__name__)

STREAM = "LEVEE_EVENTS"


@dataclass(frozen=True)
class Case:
    victim: str  # "leader" or "follower"
    writers: int
    writes_each: int  # acknowledged writes each writer needs before it stops
    kill_at: int  # writer 0's acknowledged writes when it kills the victim
    least_after_kill: int  # acknowledged writes begun after the kill, at least


CASES = [
    Case("leader", writers=32, writes_each=60, kill_at=20, least_after_kill=500),
    Case("follower", writers=8, writes_each=30, kill_at=10, least_after_kill=100),
]


@dataclass
class ClusterFigures:
    scenario: str
    acknowledged: int = 0
    refused: int = 0  # StoreUnavailable answers, each retried under a new subject
    acknowledged_after_kill: int = 0  # of writes begun after the kill
    leader_before: str | None = None  # at the moment of the kill
    leader_after: str | None = None
    killed: str | None = None
    client_server_before: str | None = None
    client_server_after: str | None = None
    seconds_to_first_write_after_kill: float | None = None
    seconds: float = 0.0

    def record(self) -> None:
        """One `cluster_figures` log line; appended to $LEVEE_FAULTS_FIGURES (JSON lines) too when set, as the
        fault scenarios' figures are (tests/faults/audit.py)."""
        import os  # the one place this test is told where to put figures

        log.info("cluster_figures", **asdict(self))
        if target := os.environ.get("LEVEE_FAULTS_FIGURES"):
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(self), ensure_ascii=False) + "\n")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    nodes = [
        NatsServer(tmp_path / f"n{n}", server_name=f"levee-{n}", cluster_name="levee-test") for n in (1, 2, 3)
    ]
    with running_cluster(nodes):
        yield nodes


async def ensure_r3_stream(url: str, spec: StreamSpec) -> None:
    nc = await connect_nats(url, name="cluster-setup")
    try:
        async with asyncio.timeout(60):
            while True:  # the meta leader may still be in election right after start
                try:
                    await ensure_stream(nc, spec, timeout=5)
                    return
                except Exception:  # retried within the bound above
                    await asyncio.sleep(0.2)
    finally:
        await nc.close()


def server_of(nc: NATS, cluster: list[NatsServer]) -> str | None:
    """The name of the node `nc` is connected to now (None while it is not)."""
    url = nc.connected_url
    return next((n.server_name for n in cluster if url is not None and url.port == n.port), None)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"kill-{case.victim}")
async def test_killing_a_node_under_load_loses_nothing_acknowledged(
    cluster: list[NatsServer], case: Case
) -> None:
    spec = StreamSpec(name=STREAM, replicas=3)
    await ensure_r3_stream(",".join(node.url for node in cluster), spec)
    leader = await wait_for_agreed_leader(cluster, STREAM)  # so the survivor asked below knows it too
    home = next(node for node in cluster if node.server_name == leader)  # the client's server
    victim = home if case.victim == "leader" else next(node for node in cluster if node is not home)
    survivor = next(node for node in cluster if node is not victim)  # asked who leads, before and after
    figures = ClusterFigures(scenario=f"cluster_kill_{case.victim}", killed=victim.server_name)
    started = time.monotonic()
    # The leader's URL alone: the client starts there and must find the survivors by itself.
    nc = await connect_nats(home.url, name="cluster-load")
    killed_at: float | None = None
    acknowledged: dict[str, int] = {}
    try:
        await wait_until(lambda: len(nc.discovered_servers) == 2, "the client learning the other two nodes")
        store = JetStreamEventStore(nc, spec, timeout=3.0)

        async def kill() -> None:
            nonlocal killed_at
            figures.leader_before = await asyncio.to_thread(stream_leader, survivor, STREAM)
            figures.client_server_before = server_of(nc, cluster)
            assert figures.leader_before == home.server_name, "the stream's leader moved before the kill"
            assert figures.client_server_before == home.server_name
            victim.kill()  # SIGKILL in the middle of the load
            killed_at = time.monotonic()

        async with GroupCommitter(store) as committer:

            async def writer(n: int) -> None:
                mine = 0
                while mine < case.writes_each:  # bounded by the timeout below
                    subject = spec.event_subject(uuid.uuid4())
                    begun_after_kill = killed_at
                    try:
                        [seq] = await committer.append(
                            [Write(subject, f"{n}-{mine}".encode(), expected_last_seq=0)]
                        )
                    except StoreUnavailable:
                        figures.refused += 1  # said no honestly during failover: nothing was promised
                        await asyncio.sleep(0.1)  # a retry's pause, not a wait for a condition
                        continue
                    acknowledged[subject] = seq
                    mine += 1
                    if begun_after_kill is not None:
                        figures.acknowledged_after_kill += 1
                        if figures.seconds_to_first_write_after_kill is None:
                            figures.seconds_to_first_write_after_kill = round(
                                time.monotonic() - begun_after_kill, 3
                            )
                    if n == 0 and mine == case.kill_at:
                        await kill()

            async with asyncio.timeout(120):
                await asyncio.gather(*(writer(n) for n in range(case.writers)))
        figures.client_server_after = server_of(nc, cluster)
        figures.leader_after = await wait_for_stream_leader(
            survivor, STREAM, other_than=victim.server_name if case.victim == "leader" else None
        )
        assert killed_at is not None and victim.exited()
        assert len(acknowledged) == case.writers * case.writes_each, "every writer finished"
        assert figures.acknowledged_after_kill >= case.least_after_kill, "writing carried on after the kill"
        if case.victim == "leader":
            assert figures.leader_after != victim.server_name, "a survivor leads the stream"
            assert figures.client_server_after not in (None, victim.server_name), "the client moved over"
            assert nc.stats["reconnects"] >= 1
        else:
            assert figures.client_server_after == home.server_name and nc.stats["reconnects"] == 0
        async with asyncio.timeout(60):
            for subject, seq in acknowledged.items():
                while True:
                    try:
                        stored = await store.last_message(subject)
                        break
                    except StoreUnavailable:
                        await asyncio.sleep(0.1)  # a retry's pause, as above
                assert stored is not None and stored.seq == seq, subject
    finally:
        figures.acknowledged = len(acknowledged)
        figures.seconds = round(time.monotonic() - started, 1)
        figures.record()  # a failed run's figures too: they say what went wrong
        await nc.close()
