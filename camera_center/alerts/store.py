"""Where alerts live: raised from detections (one incident, one alert), read within the
caller's areas, moved through their lifecycle, every change in the alert's history and
the audit log, in the same transaction."""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.alerts.counts import (
    Bucket,
    CountChanges,
    SummaryPlan,
    Tally,
    epoch_hour_sql,
    hour_start,
)
from camera_center.alerts.lifecycle import (
    OPEN,
    PRIORITY_OF_KIND,
    TRANSITIONS,
    AlertStatus,
    Priority,
    allowed_next,
)
from camera_center.alerts.live import FeedItem
from camera_center.alerts.models import (
    Alert,
    AlertCountDaily,
    AlertCountHourly,
    AlertCountHourlyArea,
    AlertEvent,
    AlertHistory,
)
from camera_center.alerts.schemas import AlertOut, Count, SummaryOut
from camera_center.audit import log as audit
from camera_center.auth.models import User
from camera_center.auth.roles import Principal, Role
from camera_center.cluster.leases import Fencing, LeaseToken, StaleLease, fence
from camera_center.errors import BadRequest, Conflict, NotFound, UnprocessableEntity
from camera_center.events import Event, EventBus
from camera_center.registry.areas import (
    descendants,
    scoped_area_ids,
    tree_pairs,
    visible_area_ids,
)
from camera_center.storage.base import UTCDateTime
from camera_center.storage.engine import Database, rowcount

SYSTEM = "system"

_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class Candidate:
    """A detection that may become an alert (or fold into an open one)."""

    kind: str
    camera_id: str
    camera_name: str
    area_id: str
    at: datetime
    rule_id: int | None = None
    rule_name: str | None = None
    label: str | None = None
    score: float | None = None
    zone: str | None = None
    track_id: int | None = None
    box: tuple[float, float, float, float] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    snapshot_path: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.camera_id}:{self.rule_id if self.rule_id is not None else self.kind}"


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    area_id: str | None = None
    camera_id: str | None = None
    kinds: tuple[str, ...] = ()
    statuses: tuple[AlertStatus, ...] = ()
    assignee: str | None = None


def to_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id, kind=alert.kind, camera_id=alert.camera_id, camera_name=alert.camera_name,
        area_id=alert.area_id, rule_id=alert.rule_id, rule_name=alert.rule_name,
        priority=Priority(alert.priority), started_at=alert.started_at,
        last_seen_at=alert.last_seen_at, occurrences=alert.occurrences, label=alert.label,
        score=alert.score, zone=alert.zone, track_id=alert.track_id,
        box=list(alert.box) if alert.box else None, detail=alert.detail or {},
        status=AlertStatus(alert.status), assignee=alert.assignee,
        has_snapshot=alert.snapshot_path is not None, has_clip=alert.clip_path is not None,
        updated_at=alert.updated_at)


def encode_cursor(alert: Alert, newest_first: bool) -> str:
    raw = json.dumps({"t": alert.started_at.isoformat(), "id": alert.id, "n": newest_first})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, newest_first: bool) -> tuple[datetime, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, alert_id, order = datetime.fromisoformat(raw["t"]), int(raw["id"]), raw["n"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The cursor is not one this server gave out: start again without "
                         "it.") from None
    if order != newest_first or at.tzinfo is None:
        raise BadRequest("This cursor belongs to a listing in the other order.")
    return at, alert_id


def _history(s: AsyncSession, alert_id: int, who: Principal | None, action: str,
             detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    s.add(AlertHistory(alert_id=alert_id, at=at or datetime.now(UTC),
                       actor_id=who.user_id if who else None,
                       actor=who.username if who else SYSTEM, action=action,
                       detail=detail or {}))


# The PostgreSQL advisory lock that orders the alert event log across servers (any
# constant of ours; it only has to differ from other locks on the database).
_EVENT_LOG_LOCK = 0x0A1E47


class AlertStore:
    def __init__(self, db: Database, bus: EventBus, dedupe_window_s: float) -> None:
        self.db = db
        self.bus = bus
        self.dedupe_window = timedelta(seconds=dedupe_window_s)
        # Event ids must become visible in id order, or a client resuming "after id N"
        # could miss an event committed just after it with a smaller id.
        self._order = asyncio.Lock()
        # A worker in multi-server mode: the lease it holds for a camera. Alerts it
        # raises are written only under a live lease (a worker paused past its leases
        # and resumed raises nothing once another has taken its cameras).
        self.fencing: Fencing | None = None

    # -- raising ---------------------------------------------------------------------------

    def _open_incident(self, c: Candidate) -> Select[Alert]:
        return (select(Alert).where(Alert.dedupe_key == c.dedupe_key,
                                    Alert.status.in_([st.value for st in OPEN]),
                                    Alert.last_seen_at >= c.at - self.dedupe_window)
                .order_by(Alert.last_seen_at.desc()).limit(1))

    async def open_incident(self, c: Candidate) -> Alert | None:
        """The open alert *c* would fold into, if any."""
        async with self.db.session() as s:
            return await s.scalar(self._open_incident(c))

    async def raise_or_fold(self, c: Candidate) -> tuple[Alert, bool]:
        """Store *c* as a new alert, or fold it into the open alert of the same incident
        (same camera and rule, seen within the dedupe window). True when new."""
        [result] = await self.raise_or_fold_many([c])
        return result

    async def raise_or_fold_many(self, candidates: list[Candidate]) -> list[tuple[Alert, bool]]:
        """Several detections in one transaction (a burst costs one commit)."""
        results: list[tuple[Alert, bool]] = []
        counts = CountChanges()
        async with self._writing() as s:
            if self.fencing is not None:
                await fence(s, self._tokens(candidates))
            for c in candidates:
                current = await s.scalar(self._open_incident(c))  # sees this batch's too
                if current is not None:
                    current.occurrences += 1
                    current.last_seen_at = max(current.last_seen_at, c.at)
                    if c.score is not None and (current.score or 0) < c.score:
                        current.score = c.score
                    if current.snapshot_path is None and c.snapshot_path is not None:
                        current.snapshot_path = c.snapshot_path
                    _history(s, current.id, None, "seen_again",
                             {"at": c.at.isoformat(), "track_id": c.track_id}, at=c.at)
                    results.append((current, False))
                    continue
                alert = Alert(
                    kind=c.kind, camera_id=c.camera_id, camera_name=c.camera_name,
                    area_id=c.area_id, rule_id=c.rule_id, rule_name=c.rule_name,
                    priority=PRIORITY_OF_KIND.get(c.kind, Priority.MEDIUM).value,
                    started_at=c.at, last_seen_at=c.at, occurrences=1, label=c.label,
                    score=c.score, zone=c.zone, track_id=c.track_id,
                    box=list(c.box) if c.box else None, detail=c.detail,
                    snapshot_path=c.snapshot_path, status=AlertStatus.NEW.value,
                    dedupe_key=c.dedupe_key)
                s.add(alert)
                await s.flush()
                counts.add(Bucket.of(alert), +1)
                _history(s, alert.id, None, "raised", {"kind": c.kind}, at=c.at)
                results.append((alert, True))
            await counts.write(s, self.db.dialect)
            await self._commit_all(s, [(a, "alert.created" if new else "alert.updated")
                                       for a, new in results])
        return results

    def _tokens(self, candidates: list[Candidate]) -> list[LeaseToken]:
        assert self.fencing is not None
        tokens = []
        for camera_id in sorted({c.camera_id for c in candidates}):
            token = self.fencing(camera_id)
            if token is None:
                raise StaleLease(LeaseToken(camera_id, "this node", 0))
            tokens.append(token)
        return tokens

    async def _commit(self, s: AsyncSession, alert: Alert, topic: str) -> None:
        await self._commit_all(s, [(alert, topic)])

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A session for changes that go into the event log, holding the order lock from
        before its first write. Taking the lock only at commit deadlocked: a session
        that had already written (SQLite's write lock, PostgreSQL's row locks) waited
        for the lock while its holder waited for the database."""
        async with self._order, self.db.session() as s:
            if self.db.dialect == "postgresql":
                # Several servers write the log: one at a time across them too, so ids
                # still become visible in order (the lock ends with the transaction).
                await s.execute(select(func.pg_advisory_xact_lock(_EVENT_LOG_LOCK)))
            yield s

    async def _commit_all(self, s: AsyncSession, changes: list[tuple[Alert, str]]) -> None:
        """Commit the changes with their lines in the event log, then announce them.
        Only inside :meth:`_writing`."""
        assert self._order.locked()
        await s.flush()
        now = datetime.now(UTC)
        events = []
        for alert, topic in changes:
            payload = to_out(alert).model_dump(mode="json")
            event = AlertEvent(topic=topic, alert_id=alert.id, area_id=alert.area_id,
                               camera_id=alert.camera_id, kind=alert.kind,
                               priority=alert.priority, payload=payload, at=now)
            s.add(event)
            events.append(event)
        await s.flush()
        await s.commit()
        for event in events:
            self.bus.publish(Event(event.topic, str(event.alert_id), at=now, data={
                "event_id": event.id, "alert": event.payload,
                "item": FeedItem.of(event.id, event.topic, event.payload)}))

    # -- reading ---------------------------------------------------------------------------

    async def _scope(self, s: AsyncSession, who: Principal, stmt: Select[*_Ts],
                     area_id: str | None = None) -> Select[*_Ts] | None:
        """Limit *stmt* to the caller's areas (and to *area_id* and below); None: nothing."""
        visible = await scoped_area_ids(s, who, area_id)
        if visible is None:
            return stmt
        if not visible:
            return None
        return stmt.where(Alert.area_id.in_(sorted(visible)))

    def _filtered(self, stmt: Select[*_Ts], f: Filters,
                  who: Principal) -> Select[*_Ts]:
        if f.since:
            stmt = stmt.where(Alert.started_at >= f.since)
        if f.until:
            stmt = stmt.where(Alert.started_at < f.until)
        if f.camera_id:
            stmt = stmt.where(Alert.camera_id == f.camera_id)
        if f.kinds:
            stmt = stmt.where(Alert.kind.in_(f.kinds))
        if f.statuses:
            stmt = stmt.where(Alert.status.in_([st.value for st in f.statuses]))
        if f.assignee == "none":
            stmt = stmt.where(Alert.assignee.is_(None))
        elif f.assignee:
            stmt = stmt.where(Alert.assignee == (who.username if f.assignee == "me"
                                                 else f.assignee))
        return stmt

    async def list(self, who: Principal, f: Filters, *, newest_first: bool = True,
                   cursor: str | None = None, limit: int = 50) -> tuple[list[Alert], str | None]:
        order = (Alert.started_at.desc(), Alert.id.desc()) if newest_first else (
            Alert.started_at.asc(), Alert.id.asc())
        stmt = self._filtered(select(Alert), f, who).order_by(*order).limit(limit + 1)
        if cursor:
            at, last_id = decode_cursor(cursor, newest_first)
            # A row-value comparison: both databases walk the (started_at, id) index from
            # the cursor (an OR of the two conditions made SQLite scan).
            key, mark = tuple_(Alert.started_at, Alert.id), tuple_(
                literal(at, UTCDateTime()), literal(last_id))
            stmt = stmt.where(key < mark if newest_first else key > mark)
        async with self.db.session() as s:
            scoped = await self._scope(s, who, stmt, f.area_id)
            rows = [] if scoped is None else list((await s.scalars(scoped)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1], newest_first) if more else None

    async def get(self, who: Principal, alert_id: int) -> Alert:
        async with self.db.session() as s:
            return await self._get(s, who, alert_id)

    async def _get(self, s: AsyncSession, who: Principal, alert_id: int,
                   lock: bool = False) -> Alert:
        # lock: a change holds the row (PostgreSQL) from the read on, so two servers
        # moving one alert cannot both start from the same status (and count it twice).
        alert = await s.get(Alert, alert_id, with_for_update=lock or None)
        visible = await visible_area_ids(s, who)
        # The same answer for "missing" and "not yours": an officer learns nothing of other
        # areas' incidents.
        if alert is None or (visible is not None and alert.area_id not in visible):
            raise NotFound(f"Alert {alert_id} does not exist.")
        return alert

    async def history(self, who: Principal,
                      alert_id: int) -> tuple[Alert, builtins.list[AlertHistory]]:
        async with self.db.session() as s:
            alert = await self._get(s, who, alert_id)
            rows = await s.scalars(select(AlertHistory).where(AlertHistory.alert_id == alert_id)
                                   .order_by(AlertHistory.id))
            return alert, list(rows.all())

    async def summary(self, who: Principal, f: Filters, since: datetime,
                      until: datetime) -> SummaryOut:
        """Counts per area, kind, status and hour. Whole hours and days come from the
        counts kept as alerts change (``alerts.counts``), the ends of the range and
        the filters the counts do not keep (a camera, a person) from the rows, always
        counted by the database: loading the rows into Python took 0.8 s for 100,000
        alerts (finding 10 of the 2026-12 review), and any signed-in user may ask for 93
        days."""
        f = replace(f, since=since, until=until)
        tally = Tally()
        async with self.db.session() as s:
            visible = await scoped_area_ids(s, who, f.area_id)
            if visible is None or visible:
                if f.camera_id or f.assignee not in (None, "none"):
                    await self.count_rows(s, who, f, visible, tally)
                else:
                    await self._count_kept(s, who, f, visible, tally)

        def counts(pairs: dict[str, int]) -> list[Count]:
            return [Count(key=k, count=n)
                    for k, n in sorted(pairs.items(), key=lambda p: (-p[1], p[0]))]

        return SummaryOut(since=since, until=until, total=sum(tally.by_key.values()),
                          by_area=counts(tally.marginal(0)), by_kind=counts(tally.marginal(1)),
                          by_status=counts(tally.marginal(2)),
                          by_hour=[Count(key=hour_start(h).isoformat(), count=n)
                                   for h, n in sorted(tally.by_hour.items())])

    async def count_rows(self, s: AsyncSession, who: Principal, f: Filters,
                         visible: set[str] | None, tally: Tally) -> None:
        """Count the alerts of *f* (its since/until included) within the *visible* areas
        (None: all) from their rows, in one pass grouped by area, kind, status and
        hour."""
        hour = epoch_hour_sql(Alert.started_at, self.db.dialect)
        stmt = self._filtered(
            select(Alert.area_id, Alert.kind, Alert.status, hour, func.count()), f, who)
        if visible is not None:
            stmt = stmt.where(Alert.area_id.in_(sorted(visible)))
        rows = (await s.execute(stmt.group_by(Alert.area_id, Alert.kind, Alert.status,
                                              hour))).all()
        tally.add_keys((area, kind, status, n) for area, kind, status, _h, n in rows)
        tally.add_hours((h, n) for *_key, h, n in rows)

    async def _count_kept(self, s: AsyncSession, who: Principal, f: Filters,
                          visible: set[str] | None, tally: Tally) -> None:
        assert f.since is not None and f.until is not None
        plan = SummaryPlan.of(f.since, f.until)
        for since, until in plan.rows:
            await self.count_rows(s, who, replace(f, since=since, until=until), visible,
                                  tally)

        def kept(table: Any, column: Any, first: int, end: int, *by: Any) -> Select[Any]:
            n = func.sum(table.unassigned if f.assignee == "none" else table.n)
            stmt = select(*by, n).where(column >= first, column < end)
            if visible is not None:
                stmt = stmt.where(table.area_id.in_(sorted(visible)))
            if f.kinds:
                stmt = stmt.where(table.kind.in_(f.kinds))
            if f.statuses:
                stmt = stmt.where(table.status.in_([st.value for st in f.statuses]))
            return stmt.group_by(*by)

        h, d, ha = AlertCountHourly, AlertCountDaily, AlertCountHourlyArea
        if plan.hours[0] < plan.hours[1]:
            # Without a kind or status filter, the counts per hour and area do (18 times
            # fewer rows in bench.alert_queries).
            by = ha if not (f.kinds or f.statuses) else h
            tally.add_hours((await s.execute(kept(by, by.hour, *plan.hours, by.hour))).all())
        for first, end in plan.edge_hours:
            tally.add_keys((await s.execute(
                kept(h, h.hour, first, end, h.area_id, h.kind, h.status))).all())
        if plan.days[0] < plan.days[1]:
            tally.add_keys((await s.execute(
                kept(d, d.day, *plan.days, d.area_id, d.kind, d.status))).all())

    # -- handling --------------------------------------------------------------------------

    async def transition(self, who: Principal, alert_id: int, to: AlertStatus,
                         note: str | None = None) -> Alert:
        async with self._writing() as s:
            alert = await self._get(s, who, alert_id, lock=True)
            counted = Bucket.of(alert)
            current = AlertStatus(alert.status)
            if to not in TRANSITIONS[current]:
                nxt = allowed_next(current)
                raise Conflict(
                    f"Alert {alert_id} is {current.value}; it cannot become {to.value}. "
                    + (f"Allowed next: {', '.join(nxt)}." if nxt else "It is closed."),
                    errors=[{"field": "status", "message": f"now {current.value}",
                             "allowed": nxt}])
            alert.status = to.value
            if to is AlertStatus.IN_PROGRESS and alert.assignee is None:
                # Whoever starts work on an unassigned alert takes it.
                alert.assignee, alert.assignee_id = who.username, who.user_id
            await self._recount(s, counted, alert)
            detail = {"from": current.value, "to": to.value, **({"note": note} if note else {})}
            _history(s, alert_id, who, "status", detail)
            audit.record(s, who, f"alert.{to.value}", target_type="alert", target_id=alert_id,
                         detail=detail)
            await self._commit(s, alert, "alert.updated")
        return alert

    async def assign(self, who: Principal, alert_id: int, username: str | None) -> Alert:
        async with self._writing() as s:
            alert = await self._get(s, who, alert_id, lock=True)
            user = None
            if username is not None:
                if username != who.username and who.role is Role.OFFICER:
                    raise UnprocessableEntity("Officers can take an alert themselves; ask an "
                                              "operator to assign it to someone else.")
                user = await s.scalar(select(User).where(User.username == username))
                if user is None or user.disabled:
                    raise UnprocessableEntity(f"No active user named '{username}'.")
                if user.role != Role.ADMIN.value:
                    areas = descendants(await tree_pairs(s), [a.id for a in user.areas])
                    if alert.area_id not in areas:
                        raise UnprocessableEntity(
                            f"'{username}' does not cover area {alert.area_id}; assign "
                            "someone of that area.")
            before, counted = alert.assignee, Bucket.of(alert)
            alert.assignee = user.username if user else None
            alert.assignee_id = user.id if user else None
            await self._recount(s, counted, alert)
            detail = {"from": before, "to": alert.assignee}
            _history(s, alert_id, who, "assigned", detail)
            audit.record(s, who, "alert.assign", target_type="alert", target_id=alert_id,
                         detail=detail)
            await self._commit(s, alert, "alert.updated")
        return alert

    async def _recount(self, s: AsyncSession, counted: Bucket, alert: Alert) -> None:
        """Move *alert* in the hourly and daily counts if its status or assignee changed."""
        counts = CountChanges()
        counts.move(counted, Bucket.of(alert))
        await counts.write(s, self.db.dialect)

    async def comment(self, who: Principal, alert_id: int, text: str) -> Alert:
        async with self._writing() as s:
            alert = await self._get(s, who, alert_id)
            _history(s, alert_id, who, "comment", {"text": text})
            alert.updated_at = datetime.now(UTC)
            audit.record(s, who, "alert.comment", target_type="alert", target_id=alert_id,
                         detail={"length": len(text)})
            await self._commit(s, alert, "alert.updated")
        return alert

    # -- retention -------------------------------------------------------------------------

    async def expired(self, before: datetime, limit: int = 1000) -> builtins.list[Alert]:
        async with self.db.session() as s:
            rows = await s.scalars(select(Alert).where(Alert.started_at < before)
                                   .order_by(Alert.started_at).limit(limit))
            return list(rows.all())

    async def delete(self, alert_ids: builtins.list[int]) -> None:
        if not alert_ids:
            return
        async with self._writing() as s:
            counts = CountChanges()
            # Read again, locked: a move may have come since the caller read them. The
            # columns that place them in the counts only (not the details).
            doomed = (select(Alert.started_at, Alert.area_id, Alert.kind, Alert.status,
                             Alert.assignee)
                      .where(Alert.id.in_(alert_ids)).with_for_update())
            for row in (await s.execute(doomed)).all():
                counts.add(Bucket.of(row), -1)
            await counts.write(s, self.db.dialect)
            await s.execute(sa_delete(AlertHistory).where(AlertHistory.alert_id.in_(alert_ids)))
            await s.execute(sa_delete(Alert).where(Alert.id.in_(alert_ids)))
            await s.commit()

    async def forget_media(self, column: str, before: datetime) -> builtins.list[str]:
        """Clear *column* (snapshot_path or clip_path) of alerts started before *before*;
        return the paths that were there, for the caller to delete."""
        col = getattr(Alert, column)
        async with self.db.session() as s:
            where = (Alert.started_at < before, col.is_not(None))
            paths = list((await s.scalars(select(col).where(*where))).all())
            await s.execute(sa_update(Alert).where(*where).values({column: None}))
            await s.commit()
        return paths

    async def set_clip(self, alert_id: int, path: str) -> Alert | None:
        async with self._writing() as s:
            alert = await s.get(Alert, alert_id)
            if alert is None:
                return None  # deleted meanwhile
            alert.clip_path = path
            _history(s, alert_id, None, "clip_attached")
            await self._commit(s, alert, "alert.updated")
        return alert

    async def forget_paths(self, paths: builtins.list[str]) -> None:
        """Media removed to keep the disk bounded: the alerts stop pointing at it."""
        if not paths:
            return
        async with self.db.session() as s:
            for column in (Alert.snapshot_path, Alert.clip_path):
                await s.execute(sa_update(Alert).where(column.in_(paths))
                                .values({column.key: None}))
            await s.commit()

    async def prune_events(self, before: datetime) -> int:
        async with self.db.session() as s:
            result = await s.execute(sa_delete(AlertEvent).where(AlertEvent.at < before))
            await s.commit()
        return rowcount(result)

    async def count(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.count()).select_from(Alert)) or 0)
