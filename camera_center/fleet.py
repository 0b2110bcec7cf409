"""The cameras being read right now: ingest driven by the registry.

Follows registry events (add, change, remove, enable, disable) without a restart,
keeps the frame hub fed, and turns long outages into ``camera.offline`` events
(and recoveries into ``camera.online``) on the event bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camera_center.aio import cancel_all
from camera_center.events import Event, EventBus
from camera_center.logs import get_logger
from camera_center.registry.cameras import CameraRegistry, StreamSource
from camera_center.settings import IngestSettings, RecordingSettings
from ingest.framehub import FrameHub
from ingest.health import StreamState
from ingest.record_plan import RecordMode
from ingest.recorder import RecordSpec
from ingest.rtsp import ReaderOptions
from ingest.supervisor import CameraStream, ReaderPool, SegmentCallback, SupervisorOptions
from ingest.workers import reader_pool

log = get_logger(__name__)


class Fleet:
    def __init__(self, registry: CameraRegistry, bus: EventBus, settings: IngestSettings,
                 worker_setup: Callable[[], None] | None = None,
                 recording: RecordingSettings | None = None,
                 recordings_root: Path | None = None,
                 on_segment: SegmentCallback | None = None,
                 owned: set[str] | None = None) -> None:
        """*owned*: the cameras this server may read (a worker in multi-server mode, which
        changes it through :meth:`own` and :meth:`disown` as its leases come and go);
        None: every enabled camera of the registry."""
        self.registry = registry
        self.owned = owned
        self.bus = bus
        self.settings = settings
        self.recording = recording or RecordingSettings(mode="off")
        self.recordings_root = recordings_root or Path("recordings")
        self._events_mode: set[str] = set()  # cameras recorded on events only
        self.hub = FrameHub(asyncio.get_running_loop())
        options = SupervisorOptions(
            reader=ReaderOptions(open_timeout_s=settings.open_timeout_s,
                                 read_timeout_s=settings.read_timeout_s,
                                 max_lag_s=settings.max_lag_s,
                                 analysis_width=settings.analysis_width,
                                 idle_decode_interval_s=settings.idle_decode_interval_s),
            backoff_cap_s=settings.backoff_cap_s,
            max_concurrent_opens=settings.max_concurrent_opens,
            recovery_attempts_per_s=settings.recovery_attempts_per_s,
            auth_backoff_cap_s=settings.auth_backoff_cap_s,
            packet_buffer_s=settings.packet_buffer_s,
        )
        self.supervisor: ReaderPool = reader_pool(self.hub.publish, options,
                                                  settings.worker_processes, worker_setup,
                                                  on_segment)
        self._reported_offline: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        subscription = self.bus.subscribe("camera.")
        for camera_id in await self.registry.all_ids():
            await self._sync(camera_id)
        self._tasks = [asyncio.create_task(self._follow(subscription), name="fleet-follow"),
                       asyncio.create_task(self._watch_outages(), name="fleet-outages")]
        log.info("ingest started", cameras=len(self.supervisor.camera_ids()))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        await asyncio.to_thread(self.supervisor.stop_all, 2.0)

    async def _sync(self, camera_id: str) -> None:
        """Make the reader for *camera_id* match the registry."""
        mine = self.owned is None or camera_id in self.owned
        source = await self.registry.stream_source(camera_id) if mine else None
        if source is None or not source.enabled:
            if self.supervisor.remove(camera_id):
                self.hub.forget(camera_id)
            self._reported_offline.discard(camera_id)
            return
        url = source.sub_url if (self.settings.prefer_sub_stream and source.sub_url) \
            else source.main_url
        fps = float(source.detection.get("fps", 1.0))
        spec, record_url = self._record_plan(source, url)
        if spec is not None and spec.mode is RecordMode.EVENTS:
            self._events_mode.add(camera_id)
        else:
            self._events_mode.discard(camera_id)
        self.supervisor.apply(CameraStream(camera_id, url, decode_fps=fps, record=spec,
                                           record_url=record_url))

    def _record_plan(self, source: StreamSource, analysed_url: str
                     ) -> tuple[RecordSpec | None, str | None]:
        """How the camera is recorded, and the URL of the recorded stream when it is not
        the analysed one (one more connection)."""
        r = self.recording
        mode = RecordMode(source.record or r.mode)
        if mode is RecordMode.OFF:
            return None, None
        stream = source.record_stream or r.stream
        url = source.sub_url if (stream == "sub" and source.sub_url) else source.main_url
        stream = "sub" if url == source.sub_url else "main"
        spec = RecordSpec(mode=mode, root=str(self.recordings_root), stream=stream,
                          segment_s=r.segment_s, pre_roll_s=r.pre_roll_s,
                          post_roll_s=r.post_roll_s,
                          min_free_bytes=int(r.min_free_gb * 1e9))
        return spec, (None if url == analysed_url else url)

    async def own(self, camera_ids: list[str]) -> None:
        """Start reading these cameras (their leases were just taken)."""
        assert self.owned is not None, "a fleet of every camera owns them all already"
        self.owned.update(camera_ids)
        for camera_id in camera_ids:
            try:
                await self._sync(camera_id)
            except Exception:
                log.exception("cannot start a camera taken over", camera_id=camera_id)

    def disown(self, camera_ids: list[str]) -> None:
        """Stop reading these cameras now, before their leases are given up: every reader
        is told to stop here, synchronously; anything it still writes is refused by
        the lease's fencing epoch."""
        assert self.owned is not None
        for camera_id in camera_ids:
            self.owned.discard(camera_id)
            if self.supervisor.remove(camera_id):
                self.hub.forget(camera_id)
            self._reported_offline.discard(camera_id)

    def motion(self, camera_id: str, at: float) -> None:
        """Analysis saw motion: cameras recorded on events record around it."""
        if camera_id in self._events_mode:
            self.supervisor.trigger_recording(camera_id, at)

    async def _follow(self, subscription: Any) -> None:
        while True:
            event = await subscription.get()
            if event.topic in ("camera.offline", "camera.online"):
                continue  # our own announcements
            try:
                if subscription.overflowed:  # we missed some: re-read everything
                    subscription.overflowed = False
                    ids = set(await self.registry.all_ids()) | set(
                        self.supervisor.camera_ids())
                    for camera_id in ids:
                        await self._sync(camera_id)
                else:
                    await self._sync(event.id)
            except Exception:
                log.exception("cannot follow registry change", camera_id=event.id)

    def _log_status(self, last: dict[str, int]) -> dict[str, int]:
        """The fleet at a glance in the log, when it changed since *last*: how a newcomer
        (or an operator tailing the log) sees the cameras come up after a start."""
        counts = {k: v for k, v in self.summary().items() if v}
        if counts != last:
            online = StreamState.ONLINE.value
            log.info("fleet status", online=counts.get(online, 0),
                     cameras=sum(counts.values()),
                     **{k: v for k, v in counts.items() if k != online})
        return counts

    async def _watch_outages(self, period_s: float = 2.0, summary_every_s: float = 10.0) -> None:
        last_summary: dict[str, int] = {}
        summary_at = 0.0
        while True:
            await asyncio.sleep(period_s)
            now = time.monotonic()
            if now - summary_at >= summary_every_s:
                summary_at = now
                last_summary = self._log_status(last_summary)
            for camera_id in self.supervisor.camera_ids():
                health = self.supervisor.health(camera_id)
                if health is None:
                    continue
                down_since = health.down_since
                down = down_since is not None
                if down_since is not None and now - down_since >= self.settings.offline_grace_s \
                        and camera_id not in self._reported_offline:
                    self._reported_offline.add(camera_id)
                    log.warning("camera offline", camera_id=camera_id,
                                state=health.state.value, error=health.last_error)
                    self.bus.publish(Event("camera.offline", camera_id,
                                           changes=(health.state.value,)))
                elif not down and camera_id in self._reported_offline:
                    self._reported_offline.discard(camera_id)
                    log.info("camera back online", camera_id=camera_id)
                    self.bus.publish(Event("camera.online", camera_id))

    def health(self, camera_id: str) -> dict[str, Any]:
        health = self.supervisor.health(camera_id)
        if health is None:
            return {"state": StreamState.DISABLED.value, "last_error": None, "reason": None}
        return health.snapshot()

    def state(self, camera_id: str) -> str:
        health = self.supervisor.health(camera_id)
        return (health.state if health else StreamState.DISABLED).value

    def summary(self) -> dict[str, int]:
        """Cameras per state, every state listed (zero included)."""
        return {s.value: 0 for s in StreamState} | dict(self.supervisor.states())
