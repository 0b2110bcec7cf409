"""MQTT: alert events and camera status on a broker, for dispatch systems and phones.

Topics (``<p>`` is ``mqtt.topic_prefix``, default ``camera-center``):

- ``<p>/alerts/<area>/<camera>/<kind>``: each alert event, QoS 1, JSON
  ``{"event_id", "event", "alert"}`` (``event`` is alert.created or alert.updated);
- ``<p>/cameras/<camera>/status``: retained, ``{"state", "error", "at"}``, published
  when the state changes (an empty retained message when the camera is removed);
- ``<p>/server/status``: retained ``online``; the broker sets ``offline`` (last will)
  when the server goes away.

Alert events are read from the event log after a stored cursor, which moves only once
the broker has acknowledged them: a broker outage or a restart loses nothing (at
least once; ``event_id`` lets a subscriber drop repeats).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from sqlalchemy import select

from camera_center.alerts.models import AlertEvent
from camera_center.delivery.models import DeliveryCursor
from camera_center.events import EventBus
from camera_center.logs import get_logger
from camera_center.settings import MqttSettings
from camera_center.storage.engine import Database
from ingest.backoff import Backoff

log = get_logger(__name__)

_CURSOR = "mqtt"
_BATCH = 200
_MIN_PASS_S = 0.1

# camera id -> {"state": ..., "last_error": ...}
StatusSource = Callable[[], dict[str, dict[str, Any]]]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class MqttPublisher:
    def __init__(self, db: Database, bus: EventBus, settings: MqttSettings) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.prefix = settings.topic_prefix.rstrip("/")
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
            s.host, port=s.port, identifier=s.client_id, username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            will=aiomqtt.Will(f"{self.prefix}/server/status", b"offline", qos=1, retain=True),
            timeout=10)

    async def _run(self) -> None:
        backoff = Backoff(initial_s=1.0, cap_s=60.0)
        while True:
            try:
                async with self._client() as client:
                    await client.publish(f"{self.prefix}/server/status", b"online", qos=1,
                                         retain=True)
                    log.info("mqtt connected", host=self.settings.host, port=self.settings.port)
                    backoff.reset()
                    self._published.clear()  # the broker may have lost retained state
                    self.connected.set()
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                delay = backoff.next_delay()
                log.warning("mqtt broker unavailable", host=self.settings.host,
                            port=self.settings.port, error=str(exc),
                            retry_in_s=round(delay, 1))
                await asyncio.sleep(delay)
                continue
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client) -> None:
        wake = self.bus.subscribe("alert.", maxsize=1)  # a doorbell; the log has the data
        try:
            while True:
                while await self._publish_alerts(client) == _BATCH:
                    pass
                await self._publish_status(client)
                await asyncio.sleep(_MIN_PASS_S)  # a burst goes out in one pass
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.get(), self.settings.status_every_s)
        finally:
            wake.close()

    async def _publish_alerts(self, client: aiomqtt.Client) -> int:
        async with self.db.session() as s:
            cursor = await s.get(DeliveryCursor, _CURSOR)
            if cursor is None:
                cursor = DeliveryCursor(name=_CURSOR, last_event_id=0)
                s.add(cursor)
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
            await client.publish(f"{self.prefix}/cameras/{camera_id}/status", b"", qos=1,
                                 retain=True)  # removed: clear the retained status
            del self._published[camera_id]
