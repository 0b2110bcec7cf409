"""The alert list and summary at scale: 1,000,000 alerts, SQLite and PostgreSQL.

    python -m bench.alert_queries --alerts 1000000

Fills a fresh database (migrated like the server's) with alerts spread over 90 days,
400 cameras in 10 communes, then times pages through the real ``AlertStore.list``
(the code behind ``GET /api/v1/alerts``): an officer's newest page, filters by kind
and status, by camera, by area and time, and the next page by cursor, and the
summary (``GET /api/v1/alerts/summary``) over a day, a week and 93 days, unfiltered
and with each filter. Baselines in the same run: the same officer page fetched with
OFFSET paging at page 200, as a list without cursors would; a day's rows read into
Python and counted there, as the summary did before it counted in SQL; and 93 days
counted by SQL from the rows, as it did before it kept hourly and daily counts.

The event log holds an ``alert.created`` line for each alert of the last 14 days (the
default ``retention.alert_events_days``); a live stream resumed from event id 0 is timed
until its replay is through (``AlertFeed.follow``, capped at
``alerts.replay_max_events``), against the whole log read and filtered in Python, as a
resume did before issue 17.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, insert, select, text

from bench.stats import percentile
from camera_center.alerts import counts
from camera_center.alerts.lifecycle import PRIORITY_OF_KIND, AlertStatus
from camera_center.alerts.live import AlertFeed, FeedFilters
from camera_center.alerts.models import Alert, AlertEvent
from camera_center.alerts.store import AlertStore, Filters, to_out
from camera_center.auth.roles import Principal, Role
from camera_center.events import EventBus
from camera_center.registry.models import Area
from camera_center.settings import AlertSettings, RetentionSettings
from camera_center.storage import migrate
from camera_center.storage.engine import Database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COMMUNES = [f"XA{i:02d}" for i in range(10)]
KINDS = list(PRIORITY_OF_KIND)
# Most alerts are long closed; a few are open.
STATUSES = [AlertStatus.RESOLVED] * 6 + [AlertStatus.FALSE_ALARM] * 3 + [AlertStatus.NEW]
EVENT_DAYS = RetentionSettings().alert_events_days
REPLAY_MAX = AlertSettings().replay_max_events
# Closed alerts mostly had someone assigned (one of 40 officers); new ones nobody.
OFFICERS = ["officer"] + [f"canbo{i}" for i in range(1, 40)]



async def fill(db: Database, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add(Area(id="HUYEN", name="Huyện", kind="district"))
        await s.flush()
        for code in COMMUNES:
            s.add(Area(id=code, name=f"Xã {code}", kind="commune", parent_id="HUYEN"))
        await s.commit()
    chunk = 10_000
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            cam = rng.randrange(400)
            kind = rng.choice(KINDS)
            at = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            status = rng.choice(STATUSES)
            assignee = (rng.choice(OFFICERS) if status is not AlertStatus.NEW
                        and rng.random() < 0.8 else None)
            rows.append({
                "kind": kind, "camera_id": f"cam{cam:03d}", "camera_name": f"Camera {cam}",
                "area_id": COMMUNES[cam % 10], "rule_id": cam * 10 + KINDS.index(kind),
                "rule_name": "Cổng", "priority": PRIORITY_OF_KIND[kind].value,
                "started_at": at, "last_seen_at": at, "occurrences": 1, "label": "person",
                "score": 0.8, "zone": None, "track_id": i, "box": [0.1, 0.1, 0.3, 0.5],
                "detail": {}, "snapshot_path": None, "clip_path": None,
                "status": status.value, "assignee_id": None, "assignee": assignee,
                "dedupe_key": f"cam{cam:03d}:{cam * 10}", "created_at": at, "updated_at": at})
        async with db.session() as s:
            await s.execute(insert(Alert), rows)
            await s.commit()
    t = time.perf_counter()
    async with db.session() as s:
        # Written around the store, so counted as the migration counts stored alerts.
        await s.run_sync(lambda sync: counts.rebuild(sync.connection()))
        await s.commit()
    print(f"  hourly and daily counts rebuilt in {time.perf_counter() - t:.1f} s")
    await fill_events(db, now - timedelta(days=EVENT_DAYS))
    async with db.session() as s:
        await s.execute(text("ANALYZE"))
        await s.commit()


async def fill_events(db: Database, since: datetime) -> None:
    """The event log as the store writes it: one line per alert raised since *since*,
    in time order, with the alert as streams send it."""
    async with db.session() as s:
        alerts = list((await s.scalars(select(Alert).where(Alert.started_at >= since)
                                       .order_by(Alert.started_at))).all())
    chunk = 10_000
    for start in range(0, len(alerts), chunk):
        async with db.session() as s:
            await s.execute(insert(AlertEvent), [
                {"topic": "alert.created", "alert_id": a.id, "area_id": a.area_id,
                 "camera_id": a.camera_id, "kind": a.kind, "priority": a.priority,
                 "payload": to_out(a).model_dump(mode="json"), "at": a.started_at}
                for a in alerts[start:start + chunk]])
            await s.commit()
    print(f"  {len(alerts):,} events in the log")


async def replay_from_zero(db: Database, who: Principal, replay_max: int) -> int:
    """A stream resumed from event id 0, until its replay is through; the events sent."""
    feed = AlertFeed(db, EventBus(), replay_max)
    areas = sorted(who.area_ids) if who.area_ids else None
    async with db.session() as s:
        latest = int(await s.scalar(select(func.max(AlertEvent.id))) or 0)
        expected = int(await s.scalar(
            select(func.count()).select_from(AlertEvent)
            .where(AlertEvent.id > latest - replay_max,
                   *([AlertEvent.area_id.in_(areas)] if areas else []))) or 0)
    follow = feed.follow(who, FeedFilters(), last_id=0)
    sent = 0
    try:
        while sent < expected:
            sent += len(await anext(follow))
    finally:
        await follow.aclose()
    return sent


async def whole_log_in_python(db: Database, who: Principal) -> int:
    """A resume from 0 as it was before issue 17: every event read, filtered here."""
    async with db.session() as s:
        rows = (await s.execute(select(AlertEvent.id, AlertEvent.area_id,
                                       AlertEvent.payload).order_by(AlertEvent.id))).all()
    return sum(1 for row in rows if row.area_id in who.area_ids)


async def timed(fn: Any, repeat: int, budget_s: float = 30) -> list[float]:
    """*repeat* runs, or as many as fit in *budget_s* (at least 5): a baseline that
    takes seconds would otherwise hold the run for minutes."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeat and (len(times) < 5 or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t) * 1000)
    return times


async def measure(db: Database, repeat: int) -> list[tuple[str, list[float]]]:
    # As `camera-center serve` does once started (app.py): the heap that stands is not
    # scanned by every full collection.
    gc.collect()
    gc.freeze()
    store = AlertStore(db, EventBus(), 120)
    officer = Principal(user_id=1, username="officer", role=Role.OFFICER,
                        area_ids=frozenset({"XA03", "XA07"}))
    admin = Principal(user_id=2, username="admin", role=Role.ADMIN)
    now = datetime.now(UTC)
    _rows, cursor = await store.list(officer, Filters(), limit=50)

    async def offset_page() -> None:
        async with db.session() as s:
            await s.scalars(select(Alert).where(Alert.area_id.in_(["XA03", "XA07"]))
                            .order_by(Alert.started_at.desc(), Alert.id.desc())
                            .offset(200 * 50).limit(50))

    cases: list[tuple[str, Any]] = [
        ("officer, newest page", lambda: store.list(officer, Filters(), limit=50)),
        ("officer, next page (cursor)",
         lambda: store.list(officer, Filters(), cursor=cursor, limit=50)),
        ("admin, kind + status=new", lambda: store.list(admin, Filters(
            kinds=("intrusion",), statuses=(AlertStatus.NEW,)), limit=50)),
        ("admin, one camera", lambda: store.list(admin, Filters(camera_id="cam123"),
                                                 limit=50)),
        ("admin, commune, last 24 h", lambda: store.list(admin, Filters(
            area_id="XA05", since=now - timedelta(hours=24)), limit=50)),
        ("baseline: OFFSET page 200", offset_page),
        ("summary, officer, last 24 h", lambda: store.summary(
            officer, Filters(), now - timedelta(hours=24), now)),
        ("summary, admin, last 24 h", lambda: store.summary(
            admin, Filters(), now - timedelta(hours=24), now)),
        ("summary, admin, 7 days", lambda: store.summary(
            admin, Filters(), now - timedelta(days=7), now)),
        ("summary, admin, 93 days", lambda: store.summary(
            admin, Filters(), now - timedelta(days=93), now)),
        ("summary, officer, 93 days", lambda: store.summary(
            officer, Filters(), now - timedelta(days=93), now)),
        ("summary, 93 d, kind=intrusion", lambda: store.summary(
            admin, Filters(kinds=("intrusion",)), now - timedelta(days=93), now)),
        ("summary, 93 d, status=new", lambda: store.summary(
            admin, Filters(statuses=(AlertStatus.NEW,)), now - timedelta(days=93), now)),
        ("summary, 93 d, assignee=none", lambda: store.summary(
            admin, Filters(assignee="none"), now - timedelta(days=93), now)),
        ("summary, officer, 93 d, me", lambda: store.summary(
            officer, Filters(assignee="me"), now - timedelta(days=93), now)),
        ("summary, 93 d, one camera", lambda: store.summary(
            admin, Filters(camera_id="cam123"), now - timedelta(days=93), now)),
        ("baseline: 24 h rows into Python", lambda: rows_counted_in_python(
            db, now - timedelta(hours=24), now)),
        ("baseline: 93 d rows counted in SQL", lambda: rows_counted_in_sql(
            store, admin, now - timedelta(days=93), now)),
        (f"replay from 0, admin ({REPLAY_MAX:,} cap)", lambda: replay_from_zero(
            db, admin, REPLAY_MAX)),
        ("replay from 0, officer", lambda: replay_from_zero(db, officer, REPLAY_MAX)),
        ("baseline: whole log into Python", lambda: whole_log_in_python(db, officer)),
    ]
    return [(name, await timed(fn, repeat)) for name, fn in cases]


async def rows_counted_in_python(db: Database, since: datetime, until: datetime) -> None:
    """The summary as it was before it counted in SQL: every row read, counted here."""
    async with db.session() as s:
        rows = (await s.execute(select(Alert.area_id, Alert.kind, Alert.status,
                                       Alert.started_at)
                                .where(Alert.started_at >= since,
                                       Alert.started_at < until))).all()
    counts: dict[Any, int] = {}
    for row in rows:
        for key in (row[0], row[1], row[2], row[3].replace(minute=0, second=0)):
            counts[key] = counts.get(key, 0) + 1


async def rows_counted_in_sql(store: AlertStore, who: Principal, since: datetime,
                              until: datetime) -> None:
    """The summary as it was before the kept counts: every row of the range grouped by
    the database."""
    async with store.db.session() as s:
        await store.count_rows(s, who, Filters(since=since, until=until), None,
                               counts.Tally())


async def run_backend(name: str, url: str, n: int, repeat: int) -> list[tuple[str, list[float]]]:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        t = time.perf_counter()
        await fill(db, n)
        print(f"{name}: {n:,} alerts written in {time.perf_counter() - t:.0f} s")
        return await measure(db, repeat)
    finally:
        await db.close()


async def main_async(n: int, repeat: int) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = await run_backend(
            "SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", n, repeat)
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
        results["PostgreSQL"] = await run_backend("PostgreSQL", f"{url}/{name}", n, repeat)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"\n{'':34} {'SQLite p50/p99 ms':>30} {'PostgreSQL p50/p99 ms':>30}")
    for i, (case, _t) in enumerate(results["SQLite"]):
        cells = []
        for backend in ("SQLite", "PostgreSQL"):
            times = results[backend][i][1]
            runs = "" if len(times) == repeat else f" ({len(times)} runs)"
            cells.append(f"{percentile(times, 0.5):7.1f} / {percentile(times, 0.99):7.1f}"
                         + runs)
        print(f"{case:34} {cells[0]:>30} {cells[1]:>30}")
    print("target: p99 <= 50 ms for a filtered page, <= 100 ms for the summary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main_async(args.alerts, args.repeat))


if __name__ == "__main__":
    main()
