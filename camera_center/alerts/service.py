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
from camera_center.audit import log as audit
from camera_center.auth.roles import system_principal
from camera_center.cluster.leases import StaleLease
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
_INTAKE_BATCH = 100
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
        self._camera_info: dict[str, tuple[str, str]] = {}


    async def start(self) -> None:
        # Subscribed before analysis starts, so no detection is missed.
        detections = self.bus.subscribe("detection.", maxsize=5000)
        cameras = self.bus.subscribe("camera.", maxsize=1000)
        self._tasks = [asyncio.create_task(self._intake(detections), name="alerts-intake"),
                       asyncio.create_task(self._forget_changed(cameras), name="alerts-cams"),
                       asyncio.create_task(self._retention_loop(), name="alerts-retention")]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._clips]:
            task.cancel()
        for task in [*self._tasks, *self._clips]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forget_changed(self, cameras: Any) -> None:
        while True:
            event = await cameras.get()
            if cameras.overflowed:
                cameras.overflowed = False
                self._camera_info.clear()
            self._camera_info.pop(event.id, None)

    async def _intake(self, detections: Any) -> None:
        while True:
            # What piled up while the last batch was stored goes in one transaction.
            events = [await detections.get()]
            while len(events) < _INTAKE_BATCH and not detections.queue.empty():
                events.append(detections.queue.get_nowait())
            if detections.overflowed:
                detections.overflowed = False
                log.error("alert intake fell behind: detections were dropped")
            try:
                await self.raise_many(events)
            except Exception:  # one bad batch must not stop every later alert
                log.exception("alerts not stored", detections=len(events))

    async def raise_from(self, event: Event) -> Alert | None:
        """Store a ``detection.*`` event as an alert (or fold it into the open one)."""
        alerts: list[Alert | None] = [*await self.raise_many([event])] or [None]
        [alert] = alerts
        return alert

    async def _camera(self, camera_id: str) -> tuple[str, str] | None:
        """(name, area) of a camera, cached until the registry announces a change."""
        info = self._camera_info.get(camera_id)
        if info is None:
            try:
                camera = await self.cameras.get(self._who, camera_id)
            except NotFound:
                return None
            info = self._camera_info[camera_id] = (camera.name, camera.area_id)
        return info

    async def raise_many(self, events: list[Event]) -> list[Alert]:
        candidates: list[tuple[Candidate, str]] = []
        snapshotted: set[str] = set()
        fencing = self.store.fencing
        for event in events:
            if fencing is not None and fencing(event.id) is None:
                continue  # given up since it was seen: its new reader raises it
            data = event.data
            info = await self._camera(event.id)
            if info is None:
                continue  # removed since the frame was taken
            rule_kind = str(data.get("kind") or event.topic.removeprefix("detection."))
            box = tuple(data["box"]) if data.get("box") else None
            candidate = Candidate(
                kind=alert_kind(rule_kind), camera_id=event.id, camera_name=info[0],
                area_id=info[1], at=event.at, rule_id=data.get("rule_id"),
                rule_name=data.get("rule"), label=data.get("label"), score=data.get("score"),
                zone=data.get("rule") if rule_kind in ZONE_KINDS | {"line_crossing"} else None,
                track_id=data.get("track_id"), box=box,
                detail=dict(data.get("detail") or {}))
            frame = data.get("frame")
            if frame is not None and candidate.dedupe_key not in snapshotted:
                current = await self.store.open_incident(candidate)
                if current is None or current.snapshot_path is None:
                    candidate = replace(candidate, snapshot_path=await self._snapshot(
                        frame, candidate))
                    snapshotted.add(candidate.dedupe_key)
            candidates.append((candidate, rule_kind))
        if not candidates:
            return []
        try:
            results = await self.store.raise_or_fold_many([c for c, _kind in candidates])
        except StaleLease as exc:
            # This worker lost a camera (paused past its lease, cut from the database):
            # another worker reads it now and raises what it sees.
            log.warning("alerts refused: camera lease lost", camera_id=exc.token.camera_id,
                        detections=len(candidates))
            return []
        for (candidate, rule_kind), (alert, created) in zip(candidates, results, strict=True):
            if not created:
                continue
            log.info("alert raised", alert_id=alert.id, kind=alert.kind,
                     camera_id=alert.camera_id, priority=alert.priority)
            if self.packets is not None and rule_kind != "offline":
                task = asyncio.create_task(self._attach_clip(alert.id, alert.camera_id,
                                                             candidate.at))
                self._clips.add(task)
                task.add_done_callback(self._clips.discard)
        return [alert for alert, _created in results]

    async def _snapshot(self, frame: Any, c: Candidate) -> str:
        caption = c.label
        if caption and c.score is not None:
            caption = f"{caption} {c.score:.2f}"
        jpeg = await asyncio.to_thread(render_snapshot, frame, c.box, caption,
                                       self.settings.snapshot_quality)
        return await asyncio.to_thread(self.media.save, jpeg, c.at, ".jpg")

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
        disk use is over the limit, and audit entries past ``retention.audit_days``."""
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
        async with self.store.db.session() as s:
            counts["audit"] = await audit.prune(s, now - timedelta(days=r.audit_days))
        return counts
