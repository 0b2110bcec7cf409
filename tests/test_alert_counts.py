"""The alert summary from kept counts: the same answer as counting the alerts themselves,
whatever was raised, moved, assigned or deleted, for any range and filter; and alerts
stored before the counts existed are counted by the migration that adds them."""

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from camera_center.alerts.counts import Bucket, CountChanges, SummaryPlan, epoch_hour
from camera_center.alerts.lifecycle import ALERT_KINDS, TRANSITIONS, AlertStatus
from camera_center.alerts.models import (
    Alert,
    AlertCountDaily,
    AlertCountHourly,
    AlertCountHourlyArea,
)
from camera_center.alerts.store import AlertStore, Candidate, Filters
from camera_center.auth.roles import Principal, Role
from camera_center.events import EventBus
from camera_center.registry.models import Area
from camera_center.storage import migrate
from camera_center.storage.engine import Database

T0 = datetime(2026, 11, 30, 21, 17, 23, 250_000, tzinfo=UTC)
ADMIN = Principal(user_id=1, username="admin", role=Role.ADMIN)
OFFICER = Principal(user_id=2, username="officer", role=Role.OFFICER,
                    area_ids=frozenset({"XA1"}))
AREAS = {"HUYEN": None, "XA1": "HUYEN", "XA2": "HUYEN", "XA3": "HUYEN"}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# -- the plan: pure, in milliseconds -------------------------------------------------------


def test_a_range_inside_one_hour_is_counted_from_the_rows_alone() -> None:
    plan = SummaryPlan.of(at(0.1), at(0.3))
    assert plan.rows == ((at(0.1), at(0.3)),) and plan.hours[0] >= plan.hours[1]
    assert plan.days[0] >= plan.days[1] and plan.edge_hours == ()


def test_an_empty_or_backwards_range_counts_nothing() -> None:
    for since, until in ((at(1), at(1)), (at(2), at(1))):
        plan = SummaryPlan.of(since, until)
        assert plan.rows == () and plan.edge_hours == () and plan.hours == (0, 0)


def test_the_ends_come_from_rows_whole_hours_and_days_from_counts() -> None:
    since, until = datetime(2026, 11, 2, 22, 40, tzinfo=UTC), datetime(2026, 11, 6, 1, 5,
                                                                        tzinfo=UTC)
    plan = SummaryPlan.of(since, until)
    first, end = epoch_hour(since) + 1, epoch_hour(until)
    assert plan.rows == ((since, since.replace(hour=23, minute=0)),
                         (until.replace(minute=0), until))
    assert plan.hours == (first, end)
    # 23:00 on the 2nd, whole days 3rd to 5th, 00:00 on the 6th.
    assert plan.days == (first // 24 + 1, end // 24)
    assert plan.edge_hours == ((first, (first // 24 + 1) * 24), (end - 1, end))


def test_hour_and_day_aligned_ends_read_no_rows_and_no_edge_hours() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    plan = SummaryPlan.of(since, since + timedelta(days=7))
    assert plan.rows == () and plan.edge_hours == ()
    assert plan.days[1] - plan.days[0] == 7 and plan.hours[1] - plan.hours[0] == 168


def test_under_a_day_of_whole_hours_is_counted_by_hour() -> None:
    plan = SummaryPlan.of(at(0.5), at(20.5))
    assert plan.days[0] >= plan.days[1] and plan.edge_hours == (plan.hours,)


def test_a_move_that_changes_nothing_writes_nothing_and_days_sum_their_hours() -> None:
    b = Bucket(epoch_hour(T0), "XA1", "intrusion", "new", True)
    changes = CountChanges()
    changes.move(b, b)
    assert changes.deltas() == {"hourly": {}, "hourly_areas": {}, "daily": {}}
    changes.add(b, +1)
    changes.add(Bucket(b.hour + 1, "XA1", "intrusion", "new", False), +1)
    changes.move(b, Bucket(b.hour, "XA1", "intrusion", "in_progress", False))
    deltas = changes.deltas()
    assert deltas["hourly"] == {(b.hour, "XA1", "intrusion", "in_progress"): (1, 0),
                                (b.hour + 1, "XA1", "intrusion", "new"): (1, 0)}
    # The move within one hour and area cancels out there: only the assignment shows.
    assert deltas["hourly_areas"] == {(b.hour, "XA1"): (1, 0), (b.hour + 1, "XA1"): (1, 0)}
    assert sum(n for n, _ in deltas["daily"].values()) == 2


# -- the store on both databases ------------------------------------------------------------


def _expected(alerts: list[Alert], since: datetime, until: datetime, areas: set[str] | None,
              kinds: tuple[str, ...] = (), statuses: tuple[str, ...] = (),
              assignee: str | None = None) -> dict[str, Any]:
    """The summary counted here, by hand, from the alerts' rows."""
    rows = [a for a in alerts if since <= a.started_at < until
            and (areas is None or a.area_id in areas) and (not kinds or a.kind in kinds)
            and (not statuses or a.status in statuses)
            and (assignee is None or (a.assignee is None if assignee == "none"
                                      else a.assignee == assignee))]

    def of(values: list[str]) -> dict[str, int]:
        return dict(Counter(values))

    return {"total": len(rows), "area": of([a.area_id for a in rows]),
            "kind": of([a.kind for a in rows]), "status": of([a.status for a in rows]),
            "hour": of([a.started_at.replace(minute=0, second=0, microsecond=0).isoformat()
                        for a in rows])}


def _got(summary: Any) -> dict[str, Any]:
    def of(counts: list[Any]) -> dict[str, int]:
        return {c.key: c.count for c in counts}

    keys = [c.key for c in summary.by_hour]
    assert keys == sorted(keys), "by_hour runs oldest first"
    return {"total": summary.total, "area": of(summary.by_area), "kind": of(summary.by_kind),
            "status": of(summary.by_status), "hour": of(summary.by_hour)}


async def _world(url: str) -> tuple[Database, AlertStore]:
    db = Database(url)
    await migrate.upgrade(db)
    async with db.session() as s:
        for code, parent in AREAS.items():
            s.add(Area(id=code, name=f"Xã {code}", kind="commune", parent_id=parent))
            await s.flush()
        await s.commit()
    return db, AlertStore(db, EventBus(), dedupe_window_s=0)


async def _churn(store: AlertStore, rng: random.Random, n: int) -> None:
    """Raise *n* alerts over three days, then move, assign and delete some."""
    ids = []
    for burst in range(n // 10):
        candidates = [Candidate(kind=rng.choice(ALERT_KINDS), camera_id=f"cam{i}",
                                camera_name=f"Camera {i}", area_id=f"XA{rng.randint(1, 3)}",
                                at=at(rng.uniform(-30, 40)), rule_id=burst * 10 + i)
                      for i in range(10)]
        ids += [a.id for a, new in await store.raise_or_fold_many(candidates) if new]
    for alert_id in rng.sample(ids, len(ids) // 2):
        for _ in range(rng.randint(1, 3)):
            status = AlertStatus((await store.get(ADMIN, alert_id)).status)
            if not TRANSITIONS[status]:
                break
            await store.transition(ADMIN, alert_id, rng.choice(sorted(TRANSITIONS[status])))
    for alert_id in rng.sample(ids, len(ids) // 8):
        await store.assign(ADMIN, alert_id, None)  # unassigned again
    await store.delete(rng.sample(ids, len(ids) // 6))


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_summaries_from_counts_match_the_alerts_after_raising_moving_and_deleting(
        database_url: str) -> None:
    async def main() -> None:
        db, store = await _world(database_url)
        try:
            await _churn(store, random.Random(5), 300)
            async with db.session() as s:
                alerts = list((await s.scalars(select(Alert))).all())
            assert {a.assignee for a in alerts} >= {None, "admin"}
            ranges = [(at(-31), at(41)),             # everything: days, hours, row ends
                      (at(-26.6), at(19.25)),        # unaligned, across two day edges
                      (at(0.2), at(0.9)),            # inside one hour
                      (at(-2.72), at(5)),            # an hour-aligned end
                      (at(3), at(2))]                # backwards: nothing
            for since, until in ranges:
                cases: list[tuple[Principal, dict[str, Any], set[str] | None]] = [
                    (ADMIN, {}, None), (OFFICER, {}, {"XA1"}),
                    (ADMIN, {"area_id": "XA2"}, {"XA2"}),
                    (ADMIN, {"kinds": ("intrusion", "tamper")}, None),
                    (ADMIN, {"statuses": (AlertStatus.NEW, AlertStatus.RESOLVED)}, None),
                    (OFFICER, {"assignee": "none"}, {"XA1"}),
                    (ADMIN, {"assignee": "me"}, None),
                    (ADMIN, {"camera_id": "cam3"}, None)]
                for who, f, areas in cases:
                    got = _got(await store.summary(who, Filters(**f), since, until))
                    want = _expected(
                        [a for a in alerts if "camera_id" not in f or a.camera_id == "cam3"],
                        since, until, areas, f.get("kinds", ()),
                        tuple(st.value for st in f.get("statuses", ())),
                        "admin" if f.get("assignee") == "me" else f.get("assignee"))
                    assert got == want, (who.username, f, since, until)
            assert _got(await store.summary(ADMIN, Filters(), at(-31), at(41)))["total"] \
                == len(alerts) > 150
            # Retention deleting everything leaves no counts behind, zeros included.
            await store.delete([a.id for a in alerts])
            async with db.session() as s:
                for table in (AlertCountHourly, AlertCountHourlyArea, AlertCountDaily):
                    assert await s.scalar(select(func.count()).select_from(table)) == 0
        finally:
            await db.close()

    asyncio.run(main())


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_alerts_stored_before_the_counts_existed_are_counted_by_the_upgrade(
        database_url: str) -> None:
    async def main() -> None:
        db = Database(database_url)
        try:
            await migrate.upgrade(db, "0008")
            rows = [{"kind": "intrusion", "camera_id": "cam1", "camera_name": "Camera 1",
                     "area_id": "XA1", "priority": "high", "started_at": at(h),
                     "last_seen_at": at(h), "occurrences": 1, "detail": {},
                     "status": status, "assignee": assignee, "dedupe_key": f"cam1:{h}"}
                    for h, status, assignee in ((-25, "resolved", "officer"),
                                                (-0.5, "new", None), (0.5, "new", None),
                                                (30, "false_alarm", None))]
            async with db.session() as s:
                s.add(Area(id="XA1", name="Xã 1", kind="commune"))
                await s.execute(insert(Alert), rows)
                await s.commit()
            await migrate.upgrade(db)
            store = AlertStore(db, EventBus(), 0)
            summary = await store.summary(ADMIN, Filters(), at(-48), at(48))
            assert summary.total == 4 and len(summary.by_hour) == 4
            assert {c.key: c.count for c in summary.by_status} == {
                "new": 2, "resolved": 1, "false_alarm": 1}
            unassigned = await store.summary(ADMIN, Filters(assignee="none"), at(-48), at(48))
            assert unassigned.total == 3
        finally:
            await db.close()

    asyncio.run(main())
