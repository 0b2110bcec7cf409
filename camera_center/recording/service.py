"""Recording on the server: indexes what the readers write, applies retention, raises
``storage_low``, and owns the export jobs. Built once in ``Services``."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from camera_center.alerts.lifecycle import OPEN
from camera_center.alerts.models import Alert
from camera_center.events import Event, EventBus
from camera_center.logs import get_logger
from camera_center.recording.evidence import SigningKey
from camera_center.recording.exports import ExportJobs
from camera_center.recording.index import RecordingIndex
from camera_center.recording.retention import HeldRange, Holds, Plan, RetentionPolicy
from camera_center.registry.models import Camera
from camera_center.settings import Settings
from camera_center.storage.engine import Database
from ingest.recorder import SegmentInfo

log = get_logger(__name__)

# An open alert holds its footage from this long before it started to this long after
# it was last seen (the pre-roll an investigator wants, and the aftermath).
ALERT_HOLD_MARGIN_S = 60.0
# Alerts about the system, not about what a camera saw, hold nothing (a storage_low
# alert holding the footage retention must delete would keep the disk full).
_HOLDLESS_KINDS = ("storage_low", "camera_offline")
_STORAGE_REASONS = ("storage_low", "disk_full")
# Segment announcements kept while the database is away: 400 cameras announce about 13
# a second with 1-minute segments, so this is over ten minutes of them.
_PENDING_MAX = 10_000


class Recordings:
    def __init__(self, settings: Settings, db: Database, bus: EventBus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.root = settings.recordings_path
        self.index = RecordingIndex(db, self.root)
        self.key = SigningKey(settings.signing_key_path)
        self.exports = ExportJobs(db, self.index, settings.exports_path, self.key,
                                  settings.recording.server_name)
        self.health_source: Callable[[], dict[str, dict[str, Any]]] = dict
        self.last_plan: Plan | None = None
        self.storage_low = False
        self._pending: list[SegmentInfo] = []
        self._pending_lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.settings.exports_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await self.index.repair_open()
        await self.exports.resume()
        self._tasks = [asyncio.create_task(self._index_loop(), name="recording-index"),
                       asyncio.create_task(self._retention_loop(), name="recording-retention")]

    async def stop(self) -> None:
        await self.exports.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()  # what the readers said while stopping

    # -- segments from the readers (any thread) ------------------------------------------

    def on_segment(self, info: SegmentInfo) -> None:
        with self._pending_lock:
            self._pending.append(info)
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _flush(self) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self.index.record(batch)
        except (DBAPIError, OSError) as exc:
            # The database away (a restart, a network cut): the footage is on disk, so
            # its index entries wait and go in once it answers, oldest first.
            with self._pending_lock:
                self._pending = (batch + self._pending)[-_PENDING_MAX:]
            log.warning("recording index waits for the database", segments=len(batch),
                        error=type(exc).__name__)
            raise

    async def settle(self, camera_ids: list[str], within_s: float) -> list[str]:
        """Wait, at most *within_s*, until these cameras' readers (told to stop) have had
        their last segments indexed: none waiting here, none of this server's left open.
        The cameras not settled by then."""
        wanted = set(camera_ids)
        deadline = time.monotonic() + within_s
        while True:
            with self._pending_lock:
                waiting = {i.camera_id for i in self._pending} & wanted
            late = sorted(waiting | set(await self.index.open_cameras(camera_ids)))
            if not late or time.monotonic() >= deadline:
                return late
            await asyncio.sleep(0.1)

    async def _index_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except (DBAPIError, OSError):
                await asyncio.sleep(1.0)
                self._wake.set()  # try again
            except Exception:
                log.exception("recording index update failed")
                await asyncio.sleep(1.0)

    # -- retention ----------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.apply_retention()
                await self.exports.sweep()
            except Exception:
                log.exception("recording retention failed")
            await asyncio.sleep(self.settings.recording.retention_every_s)

    async def policy(self) -> RetentionPolicy:
        r = self.settings.recording
        async with self.db.session() as s:
            days = dict((await s.execute(select(Camera.id, Camera.retention_days).where(
                Camera.retention_days.is_not(None)))).all())
        return RetentionPolicy(default_days=r.retention_days,
                               days_by_camera={k: int(v) for k, v in days.items() if v},
                               max_bytes=int(r.max_gb * 1e9),
                               min_free_bytes=int(r.min_free_gb * 1e9), clock=time.time)

    async def holds(self) -> Holds:
        ranges = await self.index.held_ranges()
        async with self.db.session() as s:
            alerts = (await s.execute(select(Alert.camera_id, Alert.started_at,
                                             Alert.last_seen_at)
                                      .where(Alert.status.in_([a.value for a in OPEN]),
                                             Alert.kind.not_in(_HOLDLESS_KINDS)))).all()
        ranges += [HeldRange(cam, start.timestamp() - ALERT_HOLD_MARGIN_S,
                             seen.timestamp() + ALERT_HOLD_MARGIN_S)
                   for cam, start, seen in alerts]
        return Holds(ranges)

    async def apply_retention(self) -> Plan:
        """One retention pass: plan, delete, and say when storage stays low."""
        policy = await self.policy()
        total, _count = await self.index.usage()
        free = await asyncio.to_thread(self.free_bytes)
        aged = await self.index.aged(policy.latest_cutoff())
        oldest = await self.index.oldest() if (
            (policy.max_bytes and total > policy.max_bytes) or free < policy.min_free_bytes
        ) else []
        plan = policy.plan(aged, oldest, await self.holds(), total, free)
        if plan.deletions:
            await self.index.delete([d.segment for d in plan.deletions])
            log.info("recording retention", deleted=len(plan.deletions),
                     freed_bytes=plan.bytes, held_kept=plan.held_skipped,
                     why=sorted({d.why.value for d in plan.deletions}))
        self.last_plan = plan
        await self._check_storage(plan, free + plan.bytes)
        return plan

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    async def _check_storage(self, plan: Plan, free: int) -> None:
        failing = sorted(cam for cam, rec in self.health_source().items()
                         if rec.get("reason") in _STORAGE_REASONS)
        low = plan.short_by_bytes > 0 or bool(failing)
        if low and not self.storage_low:
            log.error("recording storage low", free_bytes=free,
                      short_by_bytes=plan.short_by_bytes, cameras_not_recording=len(failing))
        if low and failing:
            # Alerts belong to a camera (and its area, for who sees them): the first camera
            # that stopped carries the one alert, with the count of the others.
            self.bus.publish(Event("detection.storage_low", failing[0], data={
                "kind": "storage_low",
                "detail": {"free_bytes": free, "short_by_bytes": plan.short_by_bytes,
                           "cameras_not_recording": len(failing),
                           "floor_bytes": int(self.settings.recording.min_free_gb * 1e9)}}))
        elif not low and self.storage_low:
            log.info("recording storage recovered", free_bytes=free)
        self.storage_low = low
