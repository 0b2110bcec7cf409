"""Turning detections into stored alerts, and keeping the store within its retention.

Follows ``detection.*`` on the event bus. Each detection is stored (with its snapshot)
before anything is announced, so a listener never hears of an alert the database
does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from camera_center.alerts.lifecycle import alert_kind
from camera_center.alerts.media import MediaStore, render_snapshot
from camera_center.alerts.models import Alert
from camera_center.alerts.store import AlertStore, Candidate
from camera_center.auth.roles import system_principal
from camera_center.errors import NotFound
from camera_center.events import Event, EventBus
from camera_center.logs import get_logger
from camera_center.registry.cameras import CameraRegistry
from camera_center.rules.engine import ZONE_KINDS
from camera_center.settings import AlertSettings, RetentionSettings
from ingest.clips import write_clip
from ingest.packets import StoredPacket

# camera id, since (wall time) -> the camera's recent packets, read by ingest
PacketSource = Callable[[str, float], list[StoredPacket]]

log = get_logger(__name__)

_RETENTION_PERIOD_S = 3600.0
_FIRST_RETENTION_AFTER_S = 60.0


class AlertService:
    def __init__(self, store: AlertStore, media: MediaStore, cameras: CameraRegistry,
                 bus: EventBus, settings: AlertSettings, retention: RetentionSettings) -> None:
        self.store = store
        self.media = media
        self.cameras = cameras
        self.bus = bus
        self.settings = settings
        self.retention = retention
        self._who = system_principal("alerts")
        self._tasks: list[asyncio.Task[None]] = []
        self._clips: set[asyncio.Task[None]] = set()
        self.packets: PacketSource | None = None  # set when ingest keeps packets


    async def start(self) -> None:
        # Subscribed before analysis starts, so no detection is missed.
        detections = self.bus.subscribe("detection.", maxsize=5000)
        self._tasks = [asyncio.create_task(self._intake(detections), name="alerts-intake"),
                       asyncio.create_task(self._retention_loop(), name="alerts-retention")]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._clips]:
            task.cancel()
        for task in [*self._tasks, *self._clips]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _intake(self, detections: Any) -> None:
        while True:
            event = await detections.get()
            if detections.overflowed:
                detections.overflowed = False
                log.error("alert intake fell behind: detections were dropped")
            try:
                await self.raise_from(event)
            except Exception:  # one bad event must not stop every later alert
                log.exception("alert not stored", camera_id=event.id, topic=event.topic)

    async def raise_from(self, event: Event) -> Alert | None:
        """Store a ``detection.*`` event as an alert (or fold it into the open one)."""
        data = event.data
        try:
            camera = await self.cameras.get(self._who, event.id)
        except NotFound:
            return None  # removed since the frame was taken
        rule_kind = str(data.get("kind") or event.topic.removeprefix("detection."))
        box = tuple(data["box"]) if data.get("box") else None
        candidate = Candidate(
            kind=alert_kind(rule_kind), camera_id=camera.id, camera_name=camera.name,
            area_id=camera.area_id, at=event.at, rule_id=data.get("rule_id"),
            rule_name=data.get("rule"), label=data.get("label"), score=data.get("score"),
            zone=data.get("rule") if rule_kind in ZONE_KINDS | {"line_crossing"} else None,
            track_id=data.get("track_id"), box=box,  # type: ignore[arg-type]
            detail=dict(data.get("detail") or {}))
        frame = data.get("frame")
        if frame is not None:
            current = await self.store.open_incident(candidate)
            if current is None or current.snapshot_path is None:
                caption = candidate.label
                if caption and candidate.score is not None:
                    caption = f"{caption} {candidate.score:.2f}"
                jpeg = await asyncio.to_thread(render_snapshot, frame, box,  # type: ignore[arg-type]
                                               caption, self.settings.snapshot_quality)
                path = await asyncio.to_thread(self.media.save, jpeg, event.at, ".jpg")
                candidate = replace(candidate, snapshot_path=path)
        alert, created = await self.store.raise_or_fold(candidate)
        if created:
            log.info("alert raised", alert_id=alert.id, kind=alert.kind, camera_id=alert.camera_id,
                     priority=alert.priority)
            if self.packets is not None and rule_kind != "offline":
                task = asyncio.create_task(self._attach_clip(alert.id, camera.id, event.at))
                self._clips.add(task)
                task.add_done_callback(self._clips.discard)
        return alert

    async def _attach_clip(self, alert_id: int, camera_id: str, at: datetime) -> None:
        """Once the seconds after the event have arrived, cut the clip and attach it."""
        s = self.settings
        start, end = at.timestamp() - s.clip_before_s, at.timestamp() + s.clip_after_s
        await asyncio.sleep(max(0.0, end - datetime.now(UTC).timestamp()) + 0.5)
        assert self.packets is not None
        try:
            packets = await asyncio.to_thread(self.packets, camera_id, start)
            data = await asyncio.to_thread(write_clip, packets, start, end)
            if data is None:
                log.warning("no clip for alert", alert_id=alert_id, camera_id=camera_id,
                            packets=len(packets))
                return
            path = await asyncio.to_thread(self.media.save, data, at, ".mp4")
            alert = await self.store.set_clip(alert_id, path)
            if alert is None:
                await asyncio.to_thread(self.media.delete, [path])
        except Exception:
            log.exception("clip failed", alert_id=alert_id, camera_id=camera_id)

    # -- retention -------------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        await asyncio.sleep(_FIRST_RETENTION_AFTER_S)
        while True:
            try:
                removed = await self.prune(datetime.now(UTC))
                if any(removed.values()):
                    log.info("alert retention", **removed)
            except Exception:
                log.exception("alert retention failed")
            await asyncio.sleep(_RETENTION_PERIOD_S)

    async def prune(self, now: datetime) -> dict[str, int]:
        """Drop alerts, snapshots and clips past their age, then the oldest media while the
        disk use is over the limit."""
        r = self.retention
        counts = {"alerts": 0, "snapshots": 0, "clips": 0, "media_over_limit": 0,
                  "events": await self.store.prune_events(
                      now - timedelta(days=r.alert_events_days))}
        while batch := await self.store.expired(now - timedelta(days=r.alerts_days)):
            paths = [p for a in batch for p in (a.snapshot_path, a.clip_path) if p]
            await self.store.delete([a.id for a in batch])
            await asyncio.to_thread(self.media.delete, paths)
            counts["alerts"] += len(batch)
        for column, days, key in (("snapshot_path", r.snapshots_days, "snapshots"),
                                  ("clip_path", r.clips_days, "clips")):
            paths = await self.store.forget_media(column, now - timedelta(days=days))
            counts[key] = await asyncio.to_thread(self.media.delete, paths)
        over = await asyncio.to_thread(self.media.shrink_to, int(r.max_media_gb * 2**30))
        await self.store.forget_paths(over)
        counts["media_over_limit"] = len(over)
        return counts
