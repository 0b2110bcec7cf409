"""MQTT: alert events and camera status on a broker, for dispatch systems and phones.

Topics (``<p>`` is ``mqtt.topic_prefix``, default ``camera-center``):

- ``<p>/alerts/<area>/<camera>/<kind>``: each alert event, QoS 1, JSON
  ``{"event_id", "event", "alert"}`` (``event`` is alert.created or alert.updated);
- ``<p>/cameras/<camera>/status``: retained, ``{"state", "error", "at"}``, published
  when the state changes (an empty retained message when the camera is removed); with
  several servers, by the worker that reads the camera (a camera moved to another worker
  is left to it, not cleared);
- ``<p>/server/status``: retained ``online``; the broker sets ``offline`` (last will)
  when the server goes away. Several API servers: ``<p>/servers/<node>/status``, one
  each, and each connects as ``<client_id>-<node>`` (one client id for two servers
  would have the broker drop one whenever the other connects).

Alert events are read from the event log after a stored cursor, which moves only once
the broker has acknowledged them: a broker outage or a restart loses nothing (at
least once; ``event_id`` lets a subscriber drop repeats). Several API servers share
the cursor: a pass locks its row until the broker has acknowledged what it sent, so the
next server's pass goes on after it and each event goes out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from sqlalchemy import select

from camera_center.alerts.models import AlertEvent
from camera_center.delivery.models import DeliveryCursor
from camera_center.events import EventBus
from camera_center.logs import get_logger
from camera_center.settings import MqttSettings
from camera_center.storage.engine import Database, upsert_into
from ingest.backoff import Backoff

log = get_logger(__name__)

_CURSOR = "mqtt"
_BATCH = 200
_MIN_PASS_S = 0.1

# camera id -> {"state": ..., "last_error": ...}
StatusSource = Callable[[], dict[str, dict[str, Any]]]
# Whether a camera this server stopped reading is still registered and enabled (so read
# by another worker, which publishes its status from now on).
StillWatched = Callable[[str], Awaitable[bool]]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class MqttPublisher:
    def __init__(self, db: Database, bus: EventBus, settings: MqttSettings,
                 node_id: str | None = None, alerts: bool = True) -> None:
        """*node_id*: this server's, where there are several (None: one server);
        *alerts*: publish the alert events (API servers; workers publish statuses)."""
        self.db = db
        self.bus = bus
        self.settings = settings
        self.alerts = alerts
        self.prefix = settings.topic_prefix.rstrip("/")
        self.still_watched: StillWatched | None = None
        if node_id is None:
            self.client_id = settings.client_id
            self.status_topic = f"{self.prefix}/server/status"
        else:
            self.client_id = f"{settings.client_id}-{node_id}"
            self.status_topic = f"{self.prefix}/servers/{node_id}/status"
        self.status_source: StatusSource | None = None
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._published: dict[str, str] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.host, port=s.port, identifier=self.client_id, username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
            timeout=10)

    async def _run(self) -> None:
        backoff = Backoff(initial_s=1.0, cap_s=60.0)
        while True:
            try:
                async with self._client() as client:
                    await client.publish(self.status_topic, b"online", qos=1, retain=True)
                    log.info("mqtt connected", host=self.settings.host, port=self.settings.port)
                    backoff.reset()
                    self._published.clear()  # the broker may have lost retained state
                    self.connected.set()
                    await self._serve(client)
            except Exception as exc:  # the broker, or the database, away: try again later
                self.connected.clear()
                delay = backoff.next_delay()
                broker = isinstance(exc, aiomqtt.MqttError)
                # (a database driver's message may hold its URL: the type only)
                log.warning("mqtt broker unavailable" if broker else "mqtt publishing failed",
                            host=self.settings.host, port=self.settings.port,
                            error=str(exc) if broker else type(exc).__name__,
                            retry_in_s=round(delay, 1))
                await asyncio.sleep(delay)
                continue
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client) -> None:
        # New alert events ring this doorbell; the log has the data.
        wake = self.bus.subscribe("alert.", maxsize=1) if self.alerts else None
        try:
            while True:
                while self.alerts and await self._publish_alerts(client) == _BATCH:
                    pass
                await self._publish_status(client)
                await asyncio.sleep(_MIN_PASS_S)  # a burst goes out in one pass
                if wake is None:
                    await asyncio.sleep(self.settings.status_every_s)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.get(), self.settings.status_every_s)
        finally:
            if wake is not None:
                wake.close()

    async def _publish_alerts(self, client: aiomqtt.Client) -> int:
        async with self.db.session() as s:
            # Locked until the commit below, after the broker's acknowledgements (no
            # lock on SQLite: one server, and no write lock held while publishing).
            cursor = await s.get(DeliveryCursor, _CURSOR, with_for_update=True)
            if cursor is None:  # the first pass ever, maybe on two servers at once
                await s.execute(upsert_into(self.db.dialect, DeliveryCursor).values(
                    name=_CURSOR, last_event_id=0).on_conflict_do_nothing())
                cursor = await s.get(DeliveryCursor, _CURSOR, with_for_update=True,
                                     populate_existing=True)
                assert cursor is not None
            events = list((await s.scalars(
                select(AlertEvent).where(AlertEvent.id > cursor.last_event_id)
                .order_by(AlertEvent.id).limit(_BATCH))).all())
            for e in events:
                topic = f"{self.prefix}/alerts/{e.area_id}/{e.camera_id}/{e.kind}"
                await client.publish(topic, _json({"event_id": e.id, "event": e.topic,
                                                   "alert": e.payload}), qos=1)
            if events:
                cursor.last_event_id = events[-1].id
            await s.commit()
        return len(events)

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        if self.status_source is None:
            return
        now = datetime.now(UTC).isoformat()
        current = self.status_source()
        for camera_id, health in current.items():
            state = str(health.get("state"))
            if self._published.get(camera_id) != state:
                await client.publish(
                    f"{self.prefix}/cameras/{camera_id}/status",
                    _json({"state": state, "error": health.get("last_error"), "at": now}),
                    qos=1, retain=True)
                self._published[camera_id] = state
        for camera_id in set(self._published) - set(current):
            if self.still_watched is None or not await self.still_watched(camera_id):
                await client.publish(f"{self.prefix}/cameras/{camera_id}/status", b"",
                                     qos=1, retain=True)  # removed: clear the status
            # (else moved to another worker, which publishes its status now)
            del self._published[camera_id]
