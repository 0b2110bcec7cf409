"""Writes that depend on owning a camera carry the lease's epoch (alerts raised, recording
segments indexed) and a stale one is refused; alert events reach another server's bus
through NATS and the event log, each once, in order, NATS outage or not. Real
PostgreSQL and a nats-server of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.cluster_topology import Nats
from bench.tcp_proxy import CuttableProxy
from camera_center.alerts.models import Alert
from camera_center.alerts.store import AlertStore, Candidate
from camera_center.cluster.leases import LeaseStore, LeaseToken, StaleLease
from camera_center.cluster.link import ClusterLink
from camera_center.cluster.relays import (
    AlertDoorbell,
    AlertRelay,
    RegistryReceiver,
    RegistrySender,
)
from camera_center.events import Event, EventBus
from camera_center.recording.index import RecordingIndex
from camera_center.recording.models import Segment
from camera_center.recording.service import Recordings
from camera_center.settings import load_settings
from camera_center.storage import migrate
from camera_center.storage.engine import Database
from ingest.recorder import SegmentInfo

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _on_db(database_url: str, body: Callable[[Database], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            await body(db)
        finally:
            await db.close()

    asyncio.run(main())


def _candidate(camera_id: str, kind: str = "intrusion") -> Candidate:
    return Candidate(kind=kind, camera_id=camera_id, camera_name=camera_id, area_id="DU",
                     at=datetime.now(UTC))


def test_an_alert_is_stored_only_under_its_camera_s_live_lease(database_url: str) -> None:
    async def body(db: Database) -> None:
        leases = LeaseStore(db)
        held: dict[str, LeaseToken] = {**await leases.acquire("w1", ["c1"], 30),
                                       **await leases.acquire("w1", ["c2"], 0.5)}
        store = AlertStore(db, EventBus(), dedupe_window_s=0)
        store.fencing = held.get
        [(alert, new)] = await store.raise_or_fold_many([_candidate("c1")])
        assert new and alert.camera_id == "c1"
        with pytest.raises(StaleLease, match="c3"):       # never owned here
            await store.raise_or_fold_many([_candidate("c3")])
        await asyncio.sleep(0.7)
        await leases.acquire("w2", ["c2"], 30)             # another worker took c2
        with pytest.raises(StaleLease, match="c2"):
            await store.raise_or_fold_many([_candidate("c1"), _candidate("c2")])
        async with db.session() as s:
            assert await s.scalar(select(func.count()).select_from(Alert)) == 1

    _on_db(database_url, body)


def test_a_segment_is_indexed_only_under_its_camera_s_live_lease(database_url: str,
                                                                  tmp_path: Path) -> None:
    def info(camera_id: str, name: str, final: bool = False) -> SegmentInfo:
        return SegmentInfo(camera_id=camera_id, stream="sub", path=f"{camera_id}/{name}.mp4",
                           start=1000.0, end=1010.0 if final else 1000.0, bytes=0,
                           codec="h264", width=640, height=360, final=final)

    async def body(db: Database) -> None:
        leases = LeaseStore(db)
        held = {**await leases.acquire("w1", ["c1"], 30),
                **await leases.acquire("w1", ["c2", "c4"], 0.5)}
        index = RecordingIndex(db, tmp_path)
        index.node_id, index.fencing = "w1", held.get
        await index.record([info("c1", "a"), info("c3", "a"), info("c4", "a")])
        await asyncio.sleep(0.7)
        held2 = await leases.acquire("w2", ["c2", "c4"], 30)
        # A segment finished after the lease ran out, never indexed: refused (its file
        # stays: it may hold footage of before the lease ran out).
        await index.record([info("c2", "b", final=True)])
        # c4's new owner opens a segment: w1's open one of c4 lies on w1's disk, for w1
        # to repair when it can, not for w2 to judge from its own disk.
        index2 = RecordingIndex(db, tmp_path / "w2")
        index2.node_id, index2.fencing = "w2", held2.get
        await index2.record([info("c4", "b")])
        async with db.session() as s:
            rows = (await s.execute(select(Segment.camera_id, Segment.node_id)
                                    .order_by(Segment.id))).all()
        assert [tuple(r) for r in rows] == [("c1", "w1"), ("c4", "w1"), ("c4", "w2")]
        # w1 finishes its c4 segment late: refused, and the row it opened under the
        # lease is closed at what its file holds (none here: the row goes), not left
        # open for ever.
        await index.record([info("c4", "a", final=True)])
        async with db.session() as s:
            rows = (await s.execute(select(Segment.camera_id, Segment.node_id)
                                    .order_by(Segment.id))).all()
        assert [tuple(r) for r in rows] == [("c1", "w1"), ("c4", "w2")]
        # Another worker's open segment is not this one's to repair at start.
        other = RecordingIndex(db, tmp_path)
        other.node_id = "w3"
        assert await other.repair_open() == 0

    _on_db(database_url, body)


def test_alert_events_cross_to_another_server_once_in_order_nats_or_not(
        database_url: str, tmp_path: Path) -> None:
    nats = Nats(tmp_path).start()

    async def body(db: Database) -> None:
        worker_bus, api_bus = EventBus(), EventBus()
        worker_link, api_link = ClusterLink(nats.url, "w1"), ClusterLink(nats.url, "api")
        await worker_link.connect()
        await api_link.connect()
        worker_store = AlertStore(db, worker_bus, dedupe_window_s=0)
        api_store = AlertStore(db, api_bus, dedupe_window_s=0)
        doorbell = AlertDoorbell(worker_bus, worker_link)
        relay = AlertRelay(db, api_bus, api_link, poll_s=1.0)
        sender = RegistrySender(api_bus, api_link)
        receiver = RegistryReceiver(worker_bus, worker_link)
        for part in (doorbell, relay, sender, receiver):
            await part.start()
        seen = api_bus.subscribe("alert.")
        changes = worker_bus.subscribe("camera.")
        try:
            await asyncio.gather(*(worker_store.raise_or_fold_many(
                [_candidate(f"c{i}"), _candidate(f"c{i}", "motion")]) for i in range(10)))
            await api_store.raise_or_fold_many([_candidate("api-side")])  # its own
            ids, relayed = [], []
            while len(ids) < 21:
                event = await asyncio.wait_for(seen.get(), 5)
                ids.append(event.data["event_id"])
                if event.data.get("relayed"):
                    relayed.append(event.data["event_id"])
            assert len(set(ids)) == 21 and len(relayed) == 20
            assert relayed == sorted(relayed), "the worker's events came out of order"
            await asyncio.sleep(1.5)
            assert seen.queue.empty(), "an event came twice"

            # A registry change on the API server reaches the worker's bus; a worker's
            # own news (camera.offline) stays home.
            api_bus.publish(Event("camera.offline", "c1"))
            api_bus.publish(Event("camera.updated", "c1", changes=("main_url",)))
            change = await asyncio.wait_for(changes.get(), 5)
            assert (change.topic, change.id, change.changes) == \
                ("camera.updated", "c1", ("main_url",))

            nats.stop()                  # NATS away: the event log still carries alerts
            await worker_store.raise_or_fold_many([_candidate("c-during-outage")])
            event = await asyncio.wait_for(seen.get(), 5)
            assert event.data["alert"]["camera_id"] == "c-during-outage"
        finally:
            for part in (doorbell, relay, sender):
                await part.stop()
            await worker_link.stop()
            await api_link.stop()

    try:
        _on_db(database_url, body)
    finally:
        nats.stop()


def test_segments_announced_while_the_database_is_away_are_indexed_once_it_is_back(
        database_url: str, tmp_path: Path) -> None:
    proxy, through_proxy = CuttableProxy.for_database(database_url)
    proxy.start()
    settings = load_settings(None, data_dir=str(tmp_path / "data"),
                             database={"url": database_url})

    async def body(db: Database) -> None:
        cut_db = Database(through_proxy)
        recordings = Recordings(settings, cut_db, EventBus())
        await recordings.start()
        try:
            proxy.cut()
            for i in range(3):  # each opened, then closed 10 s later
                for final in (False, True):
                    start = 1000.0 + 10 * i
                    recordings.on_segment(SegmentInfo(
                        camera_id="c1", stream="sub", path=f"c1/{i}.mp4", start=start,
                        end=start + 10 * final, bytes=1000 * final, codec="h264",
                        width=640, height=360, final=final))
            await asyncio.sleep(2.5)              # a few failed attempts meanwhile
            proxy.restore()
            for _ in range(100):
                async with db.session() as s:
                    paths = set((await s.scalars(select(Segment.path)
                                                 .where(Segment.closed.is_(True)))).all())
                if len(paths) == 3:
                    break
                await asyncio.sleep(0.1)
            assert paths == {"c1/0.mp4", "c1/1.mp4", "c1/2.mp4"}
        finally:
            await recordings.stop()
            await cut_db.close()

    try:
        _on_db(database_url, body)
    finally:
        proxy.stop()
