"""The live alert feed behind the WebSocket and SSE streams.

A client that reconnects says the last event id it received; the feed replays the
stored events after it, then follows new ones. It subscribes to the bus before
reading the database, and skips what it has already sent, so nothing falls in the
gap between the two and nothing comes twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from camera_center.alerts.models import AlertEvent
from camera_center.auth.roles import Principal
from camera_center.events import EventBus
from camera_center.registry.areas import scoped_area_ids
from camera_center.storage.engine import Database

_REPLAY_PAGE = 500


@dataclass(frozen=True)
class FeedFilters:
    area_id: str | None = None
    camera_id: str | None = None
    kinds: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One event as streams send it. Made once per event and shared by every
    subscriber (with 500 subscribers, per-subscriber copies were a visible cost)."""

    id: int
    topic: str
    area_id: str
    camera_id: str
    kind: str
    priority: str
    message: str  # the JSON that goes on the wire

    @classmethod
    def of(cls, event_id: int, topic: str, alert: dict[str, Any]) -> FeedItem:
        return cls(event_id, topic, alert["area_id"], alert["camera_id"], alert["kind"],
                   alert["priority"], wire_message(event_id, topic, alert))


def wire_message(event_id: int, topic: str, alert: dict[str, Any]) -> str:
    """What a stream sends per event: ``{"id", "event", "alert"}``."""
    return json.dumps({"id": event_id, "event": topic, "alert": alert}, ensure_ascii=False,
                      separators=(",", ":"))


class AlertFeed:
    def __init__(self, db: Database, bus: EventBus, replay_max: int = 10_000) -> None:
        self.db = db
        self.bus = bus
        self.replay_max = replay_max

    async def _areas(self, who: Principal, area_id: str | None) -> set[str] | None:
        async with self.db.session() as s:
            return await scoped_area_ids(s, who, area_id)

    async def latest_id(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.max(AlertEvent.id))) or 0)

    async def follow(self, who: Principal, f: FeedFilters,
                     last_id: int | None = None) -> AsyncGenerator[list[FeedItem], None]:
        """Events the caller may see, after *last_id* (None: from now on), in batches:
        whatever has arrived by the time the consumer asks again comes at once, so a
        consumer that sends at most every few tens of milliseconds sends few messages
        however busy the center is."""
        subscription = self.bus.subscribe("alert.", maxsize=10_000)
        try:
            areas = await self._areas(who, f.area_id)

            def wanted(area_id: str, camera_id: str, kind: str, priority: str) -> bool:
                return ((areas is None or area_id in areas)
                        and (f.camera_id is None or camera_id == f.camera_id)
                        and (not f.kinds or kind in f.kinds)
                        and (not f.priorities or priority in f.priorities))

            latest = await self.latest_id()
            # A resume replays at most the newest replay_max events (finding 10 of the
            # 2026-12 review: a resume from 0 read the whole log).
            sent = latest if last_id is None else max(last_id, latest - self.replay_max)
            conditions = _sql_filters(areas, f)
            while True:
                # From the database: everything after what was sent (a resume, or a
                # catch-up after this subscriber fell behind and lost bus events),
                # filtered there.
                async for page in self._replay(sent, conditions):
                    sent = page[-1].id
                    yield page
                subscription.overflowed = False
                while not subscription.overflowed:
                    events = [await subscription.get()]
                    while not subscription.queue.empty():
                        events.append(subscription.queue.get_nowait())
                    batch = []
                    for event in events:
                        item: FeedItem = event.data["item"]
                        if item.id <= sent:
                            continue  # already replayed
                        sent = item.id
                        if wanted(item.area_id, item.camera_id, item.kind, item.priority):
                            batch.append(item)
                    if batch:
                        yield batch
        finally:
            subscription.close()

    async def _replay(self, after: int, conditions: list[Any]
                      ) -> AsyncIterator[list[FeedItem]]:
        while True:
            async with self.db.session() as s:
                rows = list((await s.execute(
                    select(AlertEvent.id, AlertEvent.topic, AlertEvent.payload)
                    .where(AlertEvent.id > after, *conditions).order_by(AlertEvent.id)
                    .limit(_REPLAY_PAGE))).all())
            if rows:
                yield [FeedItem.of(row.id, row.topic, row.payload) for row in rows]
            if len(rows) < _REPLAY_PAGE:
                return
            after = rows[-1].id


def _sql_filters(areas: set[str] | None, f: FeedFilters) -> list[Any]:
    """The feed's filters as WHERE conditions on the event log."""
    conditions: list[Any] = []
    if areas is not None:
        conditions.append(AlertEvent.area_id.in_(sorted(areas)) if areas
                          else AlertEvent.id < 0)
    if f.camera_id is not None:
        conditions.append(AlertEvent.camera_id == f.camera_id)
    if f.kinds:
        conditions.append(AlertEvent.kind.in_(f.kinds))
    if f.priorities:
        conditions.append(AlertEvent.priority.in_(f.priorities))
    return conditions
