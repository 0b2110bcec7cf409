"""The live alert feed behind the WebSocket and SSE streams.

A client that reconnects says the last event id it received; the feed replays the
stored events after it, then follows new ones. It subscribes to the bus before
reading the database, and skips what it has already sent, so nothing falls in the
gap between the two and nothing comes twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from camera_center.alerts.models import AlertEvent
from camera_center.auth.roles import Principal
from camera_center.events import EventBus
from camera_center.registry.areas import descendants, tree_pairs, visible_area_ids
from camera_center.storage.engine import Database

_REPLAY_PAGE = 500


@dataclass(frozen=True)
class FeedFilters:
    area_id: str | None = None
    camera_id: str | None = None
    kinds: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedItem:
    id: int
    topic: str
    alert: dict[str, Any]
    message: str = ""  # the JSON that goes on the wire, made once for every subscriber

    def wire(self) -> str:
        return self.message or wire_message(self.id, self.topic, self.alert)


def wire_message(event_id: int, topic: str, alert: dict[str, Any]) -> str:
    """What a stream sends per event: ``{"id", "event", "alert"}``."""
    return json.dumps({"id": event_id, "event": topic, "alert": alert}, ensure_ascii=False,
                      separators=(",", ":"))


class AlertFeed:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    async def _areas(self, who: Principal, area_id: str | None) -> set[str] | None:
        async with self.db.session() as s:
            visible = await visible_area_ids(s, who)
            if area_id is not None:
                wanted = descendants(await tree_pairs(s), [area_id])
                visible = wanted if visible is None else visible & wanted
        return visible

    async def latest_id(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.max(AlertEvent.id))) or 0)

    async def follow(self, who: Principal, f: FeedFilters,
                     last_id: int | None = None) -> AsyncIterator[FeedItem]:
        """Events the caller may see, after *last_id* (None: from now on)."""
        subscription = self.bus.subscribe("alert.", maxsize=10_000)
        try:
            areas = await self._areas(who, f.area_id)

            def wanted(area_id: str, camera_id: str, kind: str, priority: str) -> bool:
                return ((areas is None or area_id in areas)
                        and (f.camera_id is None or camera_id == f.camera_id)
                        and (not f.kinds or kind in f.kinds)
                        and (not f.priorities or priority in f.priorities))

            sent = await self.latest_id() if last_id is None else last_id
            while True:
                # From the database: everything after what was sent (a resume, or a
                # catch-up after this subscriber fell behind and lost bus events).
                async for item in self._replay(sent, wanted):
                    sent = item.id
                    yield item
                subscription.overflowed = False
                while not subscription.overflowed:
                    event = await subscription.get()
                    event_id = int(event.data.get("event_id", 0))
                    if event_id <= sent:
                        continue  # already replayed
                    sent = event_id
                    alert = event.data["alert"]
                    if wanted(alert["area_id"], alert["camera_id"], alert["kind"],
                              alert["priority"]):
                        yield FeedItem(event_id, event.topic, alert,
                                       event.data.get("message", ""))
        finally:
            subscription.close()

    async def _replay(self, after: int, wanted: Any) -> AsyncIterator[FeedItem]:
        while True:
            async with self.db.session() as s:
                rows = list((await s.scalars(
                    select(AlertEvent).where(AlertEvent.id > after).order_by(AlertEvent.id)
                    .limit(_REPLAY_PAGE))).all())
            for row in rows:
                after = row.id
                if wanted(row.area_id, row.camera_id, row.kind, row.priority):
                    yield FeedItem(row.id, row.topic, row.payload)
            if len(rows) < _REPLAY_PAGE:
                return
