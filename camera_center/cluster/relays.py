"""What the servers tell each other over NATS about the registry and the alerts.

* Registry changes (cameras, areas, rules) made on an API server reach every worker's
  event bus, where the fleet, the analysis and the alert service already follow them.
* Alerts: the event log in PostgreSQL is the outbox. A server that commits alert events
  rings a doorbell on NATS; every API server, on the doorbell or at the latest every
  ``poll_s``, reads the log after the last event it has relayed and puts each event on
  its own bus, where the live streams, webhooks and MQTT take them. The log's ids become
  visible in order across servers (``AlertStore._writing`` holds an advisory lock), so
  "after the last id" misses nothing, and a NATS outage only delays events to the next
  poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from sqlalchemy import func, select

from camera_center.aio import cancel_all
from camera_center.alerts.live import FeedItem
from camera_center.alerts.models import AlertEvent
from camera_center.cluster.link import ALERTS, REGISTRY, ClusterLink, as_json_bytes
from camera_center.events import Event, EventBus, Subscription
from camera_center.logs import get_logger
from camera_center.storage.engine import Database

log = get_logger(__name__)

_REGISTRY_PREFIXES = ("camera.", "area.", "rule.")
_LOCAL_ONLY = ("camera.offline", "camera.online")  # each worker says these of its own
_PAGE = 500


class _Loops:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []


class RegistrySender(_Loops):
    """An API server: its registry changes, to the workers."""

    def __init__(self, bus: EventBus, link: ClusterLink) -> None:
        super().__init__()
        self.bus = bus
        self.link = link

    async def start(self) -> None:
        subscriptions = [self.bus.subscribe(p, maxsize=10_000) for p in _REGISTRY_PREFIXES]
        for sub in subscriptions:
            self._spawn(self._forward(sub), f"registry-send-{sub.prefix}")

    async def _forward(self, sub: Subscription) -> None:
        try:
            while True:
                event = await sub.get()
                if event.topic in _LOCAL_ONLY or event.data.get("relayed"):
                    continue
                await self.link.publish(REGISTRY, as_json_bytes(
                    {"topic": event.topic, "id": event.id, "changes": list(event.changes)}))
        finally:
            sub.close()


class RegistryReceiver:
    """A worker: registry changes from the API servers, onto its own bus."""

    def __init__(self, bus: EventBus, link: ClusterLink) -> None:
        self.bus = bus
        self.link = link

    async def start(self) -> None:
        await self.link.subscribe(REGISTRY, self._on_message)

    async def _on_message(self, _subject: str, data: bytes) -> None:
        change = json.loads(data)
        topic = str(change["topic"])
        if not topic.startswith(_REGISTRY_PREFIXES):
            return
        self.bus.publish(Event(topic, str(change["id"]),
                               changes=tuple(change.get("changes") or ()),
                               data={"relayed": True}))


class AlertDoorbell(_Loops):
    """A worker: rings every API server when it has committed alert events."""

    def __init__(self, bus: EventBus, link: ClusterLink) -> None:
        super().__init__()
        self.bus = bus
        self.link = link

    async def start(self) -> None:
        self._spawn(self._ring(self.bus.subscribe("alert.", maxsize=10_000)), "alert-doorbell")

    async def _ring(self, sub: Subscription) -> None:
        try:
            while True:
                event = await sub.get()
                while not sub.queue.empty():  # a burst: one ring, the newest id
                    event = sub.queue.get_nowait()
                await self.link.publish(ALERTS, as_json_bytes(
                    {"event_id": event.data.get("event_id")}))
        finally:
            sub.close()


class AlertRelay(_Loops):
    """An API server: every alert event committed anywhere, onto its own bus once."""

    def __init__(self, db: Database, bus: EventBus, link: ClusterLink,
                 poll_s: float = 2.0) -> None:
        super().__init__()
        self.db = db
        self.bus = bus
        self.link = link
        self.poll_s = poll_s
        self.last_id = 0
        self.relayed = 0
        self._mine: set[int] = set()  # ids this server committed, not yet passed
        self._wake = asyncio.Event()

    async def start(self) -> None:
        async with self.db.session() as s:
            self.last_id = int(await s.scalar(select(func.max(AlertEvent.id))) or 0)
        # Events this server committed itself are on its bus already.
        local = self.bus.subscribe("alert.", maxsize=100_000)
        await self.link.subscribe(ALERTS, self._on_doorbell)
        self._spawn(self._run(local), "alert-relay")

    async def _on_doorbell(self, _subject: str, _data: bytes) -> None:
        self._wake.set()

    async def _run(self, local: Subscription) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()
                try:
                    await self._catch_up(local)
                except Exception as exc:  # the database away: the next poll retries
                    log.warning("alert relay cannot read the event log",
                                error=type(exc).__name__)
        finally:
            local.close()

    async def _catch_up(self, local: Subscription) -> None:
        while True:
            async with self.db.session() as s:
                rows = list((await s.execute(
                    select(AlertEvent.id, AlertEvent.alert_id, AlertEvent.topic,
                           AlertEvent.payload, AlertEvent.at)
                    .where(AlertEvent.id > self.last_id).order_by(AlertEvent.id)
                    .limit(_PAGE))).all())
            while not local.queue.empty():
                event = local.queue.get_nowait()
                if not event.data.get("relayed"):
                    self._mine.add(int(event.data["event_id"]))
            for row in rows:
                self.last_id = row.id
                if row.id in self._mine:
                    self._mine.discard(row.id)
                    continue
                self.relayed += 1
                self.bus.publish(Event(row.topic, str(row.alert_id), at=row.at, data={
                    "event_id": row.id, "alert": row.payload, "relayed": True,
                    "item": FeedItem.of(row.id, row.topic, row.payload)}))
            self._mine = {i for i in self._mine if i > self.last_id}
            if len(rows) < _PAGE:
                return
