"""A three-node JetStream cluster on loopback with an R3 stream: one node dies under load, nothing acknowledged
is lost, and writing carries on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.store import JetStreamEventStore, StoreUnavailable, Write
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer
from tests.support.nats_cluster import running_cluster


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


async def test_killing_one_node_under_load_loses_nothing_acknowledged(cluster: list[NatsServer]) -> None:
    url = ",".join(node.url for node in cluster)
    spec = StreamSpec(name="LEVEE_EVENTS", replicas=3)
    await ensure_r3_stream(url, spec)
    nc = await connect_nats(url, name="cluster-load")
    acknowledged: dict[str, int] = {}
    refused = 0
    killed = asyncio.Event()
    after_kill = 0
    try:
        store = JetStreamEventStore(nc, spec, timeout=3.0)
        async with GroupCommitter(store) as committer:

            async def writer(n: int) -> None:
                nonlocal refused, after_kill
                mine = 0
                while (
                    mine < 60
                ):  # until this writer has 60 acknowledged writes (bounded by the timeout below)
                    subject = spec.event_subject(uuid.uuid4())
                    try:
                        [seq] = await committer.append(
                            [Write(subject, f"{n}-{mine}".encode(), expected_last_seq=0)]
                        )
                    except StoreUnavailable:
                        refused += 1  # said no honestly during failover: nothing was promised, so retry
                        await asyncio.sleep(0.1)
                        continue
                    acknowledged[subject] = seq
                    mine += 1
                    after_kill += killed.is_set()
                    if n == 0 and mine == 20:
                        cluster[0].kill()  # SIGKILL one node in the middle of the load
                        killed.set()

            async with asyncio.timeout(120):
                await asyncio.gather(*(writer(n) for n in range(32)))
        assert len(acknowledged) == 32 * 60, f"every writer finished despite the failover ({refused} refused)"
        assert after_kill > 500, f"only {after_kill} writes were acknowledged after the kill"
        async with asyncio.timeout(60):
            for subject, seq in acknowledged.items():
                while True:
                    try:
                        stored = await store.last_message(subject)
                        break
                    except StoreUnavailable:
                        await asyncio.sleep(0.1)
                assert stored is not None and stored.seq == seq, subject
    finally:
        await nc.close()
