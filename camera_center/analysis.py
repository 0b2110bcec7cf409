"""From frames to detection events: motion gates everything, objects are detected in
batches across cameras, tracks and rules decide what fires.

Takes frames from the fleet's frame hub, keeps per-camera state (motion, tamper,
tracks, rules), reloads a camera's rules when they change, and publishes each
firing on the event bus as ``detection.<kind>`` (the alerts service stores and
delivers them) with the frame it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2

from camera_center.events import Event, EventBus
from camera_center.fleet import Fleet
from camera_center.logs import get_logger
from camera_center.registry.schemas import DetectionSettings
from camera_center.rules.engine import CLASS_KINDS, CameraRules, Firing, Observation
from camera_center.rules.store import RuleStore
from camera_center.settings import DetectorSettings
from detectors.backend import DetectorConfig, ObjectBackend
from detectors.backends import load_backend
from detectors.motion import MotionDetector, MotionResult, MotionSettings
from detectors.objects import BatchingDetector
from detectors.tamper import TamperDetector, TamperResult
from detectors.tracking import ObjectTracker
from ingest.rtsp import Frame

log = get_logger(__name__)

# Someone standing still: the moving regions stay put, and so do the objects in them.
# Their last detections are reused for this long before the detector looks again.
_REUSE_S = 10.0


@dataclass
class AnalysisStats:
    frames: int = 0
    with_motion: int = 0
    sent_to_detector: int = 0
    reused: int = 0              # still scene: the previous detections still hold
    detector_busy: int = 0       # frames skipped because detection was saturated
    firings: dict[str, int] = field(default_factory=dict)


class _Turns:
    """The analysis thread, one frame at a time, active frames first.

    A frame is active when its reader saw the scene move or the whole picture change
    (a covered lens). When the machine cannot keep up, such a frame waits behind other
    active frames, not behind every quiet camera's periodic check; first come first
    served within each kind. One turn in ``idle_every`` still goes to a quiet camera,
    so a slow change (a lens sprayed little by little) is not starved for good.
    """

    def __init__(self, idle_every: int = 10) -> None:
        self._busy = False
        self._active: deque[asyncio.Future[None]] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._idle_every = idle_every
        self._given = 0

    async def take(self, active: bool, camera_id: str) -> None:
        if not self._busy:
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._active if active else self._idle).append(turn)
        self._waiting[camera_id] = turn
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give_back()  # handed the turn just as it was cancelled
            raise
        finally:
            if self._waiting.get(camera_id) is turn:
                del self._waiting[camera_id]

    def hurry(self, camera_id: str) -> None:
        """An active frame came for a camera waiting with a quiet one: it waits as active
        now (its place among the quiet ones is skipped when reached)."""
        turn = self._waiting.get(camera_id)
        if turn is not None and not turn.done():
            self._active.append(turn)

    def give_back(self) -> None:
        self._given += 1
        first_idle = self._given % self._idle_every == 0
        for waiting in (self._idle, self._active) if first_idle else (self._active, self._idle):
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    turn.set_result(None)  # the turn passes on: still busy
                    return
        self._busy = False


@dataclass
class _Camera:
    motion: MotionDetector
    tamper: TamperDetector
    rules: CameraRules
    enabled: bool
    tracker: ObjectTracker | None = None
    busy: bool = False
    pending: Frame | None = None
    detected_motion: MotionResult | None = None   # the motion the last detections saw
    detected_at: float = 0.0
    detections: list[Any] = field(default_factory=list)

    @property
    def wants_objects(self) -> bool:
        return any(r.kind in CLASS_KINDS for r in self.rules.rules)


class Analysis:
    def __init__(self, fleet: Fleet, rules: RuleStore, bus: EventBus,
                 settings: DetectorSettings) -> None:
        self.fleet = fleet
        self.rules = rules
        self.bus = bus
        self.settings = settings
        self.stats = AnalysisStats()
        # The latest firings without their frames, for operators' diagnostics and tests
        # (the alerts service keeps the real record).
        self.recent: deque[dict[str, Any]] = deque(maxlen=500)
        self.backend: ObjectBackend | None = None
        self.detector: BatchingDetector | None = None
        self._cameras: dict[str, _Camera] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._turns = _Turns()
        # Motion and tamper are cheap but not free: keep them off the event loop, on one
        # thread (OpenCV releases the interpreter lock while it works).
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="analysis",
                                       initializer=cv2.setNumThreads, initargs=(1,))

    async def start(self) -> None:
        s = self.settings
        config = DetectorConfig(model=s.model, device=s.device, imgsz=s.imgsz,
                                confidence=s.confidence, classes=tuple(s.classes),
                                runtime=s.runtime, precision=s.precision)
        self.backend = await asyncio.to_thread(load_backend, config, None, s.openvino_hint)
        if self.backend is not None:
            self.detector = BatchingDetector(self.backend, s.batch_size, s.batch_wait_ms)
        # About two seconds of the fleet's frames; older ones are dropped if analysis lags
        # (each is ~170 kB, so a deep queue would be memory for stale pictures).
        frames = self.fleet.hub.subscribe(maxsize=512)
        events = self.bus.subscribe("")
        self._tasks = [asyncio.create_task(self._consume(frames), name="analysis-frames"),
                       asyncio.create_task(self._follow(events), name="analysis-events")]
        log.info("analysis started", objects=self.backend is not None,
                 model=str(s.model) if self.backend else None,
                 runtime=self.backend.runtime if self.backend else None)

    async def stop(self) -> None:
        for task in [*self._tasks, *self._inflight]:
            task.cancel()
        for task in [*self._tasks, *self._inflight]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.detector is not None:
            await asyncio.to_thread(self.detector.close)
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _camera(self, camera_id: str) -> _Camera | None:
        cam = self._cameras.get(camera_id)
        if cam is None:
            settings = await self.fleet.registry.detection_settings(camera_id)
            if settings is None:
                return None
            det = DetectionSettings(**settings)
            motion = MotionSettings(
                sensitivity=det.sensitivity, min_area=det.min_area,
                masks=tuple(tuple((p[0], p[1]) for p in poly) for poly in det.masks))
            cam = _Camera(MotionDetector(motion), TamperDetector(),
                          CameraRules(await self.rules.specs(camera_id)), det.enabled)
            if self.backend is not None:
                cam.tracker = ObjectTracker(self.backend.labels, frame_rate=det.fps)
            self._cameras[camera_id] = cam
        return cam

    async def _consume(self, frames: Any) -> None:
        while True:
            camera_id, frame = await frames.get()
            cam = await self._camera(camera_id)
            if cam is None or not cam.enabled:
                continue
            if cam.busy:  # still working on its previous frame: keep only the newest
                cam.pending = frame
                if frame.active:
                    self._turns.hurry(camera_id)
                continue
            cam.busy = True
            task = asyncio.create_task(self._run(camera_id, cam, frame))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _run(self, camera_id: str, cam: _Camera, frame: Frame) -> None:
        try:
            while True:
                try:
                    await self._analyse(camera_id, cam, frame)
                except Exception:
                    log.exception("analysis failed", camera_id=camera_id)
                if cam.pending is None:
                    return
                frame, cam.pending = cam.pending, None
        finally:
            cam.busy = False

    async def _analyse(self, camera_id: str, cam: _Camera, frame: Frame) -> None:
        loop = asyncio.get_running_loop()
        await self._turns.take(frame.active, camera_id)
        try:
            if cam.pending is not None:  # a newer picture came while this one waited
                frame, cam.pending = cam.pending, None
            motion, tamper = await loop.run_in_executor(self._cpu, _cheap, cam, frame)
        finally:
            self._turns.give_back()
        self.stats.frames += 1
        tracks: tuple[Any, ...] = ()
        if motion.motion:
            self.stats.with_motion += 1
            self.fleet.motion(camera_id, frame.captured_at)
            if self.detector is not None and cam.tracker is not None and cam.wants_objects:
                if motion.same_regions(cam.detected_motion) \
                        and frame.captured_at - cam.detected_at < _REUSE_S:
                    self.stats.reused += 1
                    tracks = tuple(cam.tracker.update(cam.detections))
                else:
                    try:
                        detections = await self.detector.detect(frame.image)
                    except queue.Full:
                        self.stats.detector_busy += 1
                    else:
                        self.stats.sent_to_detector += 1
                        cam.detected_motion, cam.detected_at = motion, frame.captured_at
                        cam.detections = detections
                        tracks = tuple(cam.tracker.update(detections))
        at = datetime.fromtimestamp(frame.captured_at, UTC)
        for firing in cam.rules.evaluate(Observation(at, tracks, motion, tamper)):
            self._emit(camera_id, firing, frame)

    def _emit(self, camera_id: str, firing: Firing, frame: Frame | None) -> None:
        kind = firing.rule.kind
        self.stats.firings[kind] = self.stats.firings.get(kind, 0) + 1
        data = {"rule_id": firing.rule.id, "rule": firing.rule.name, "kind": kind,
                "label": firing.label, "score": firing.score, "box": firing.box,
                "track_id": firing.track_id, "frame_at": firing.at.isoformat(),
                "detail": firing.detail, "frame": frame.image if frame else None}
        fields = {"label": firing.label, "track_id": firing.track_id,
                  "score": None if firing.score is None else round(firing.score, 2),
                  **firing.detail}
        log.info("detection", camera_id=camera_id, kind=kind, rule=firing.rule.name,
                 **{k: v for k, v in fields.items() if isinstance(v, str | int | float)})
        self.recent.append({"camera_id": camera_id,
                            **{k: v for k, v in data.items() if k != "frame"}})
        self.bus.publish(Event(f"detection.{kind}", camera_id, at=firing.at, data=data))

    async def _follow(self, events: Any) -> None:
        while True:
            event = await events.get()
            if event.topic in ("rule.changed", "camera.updated", "camera.removed",
                               "camera.added"):
                self._cameras.pop(event.id, None)  # rebuilt from the registry on next frame
            elif event.topic == "camera.offline":
                cam = await self._camera(event.id)
                if cam is None:
                    continue
                health = self.fleet.health(event.id)
                for firing in cam.rules.offline(event.at, health.get("state", "offline"),
                                                health.get("last_error")):
                    self._emit(event.id, firing, None)


def _cheap(cam: _Camera, frame: Frame) -> tuple[MotionResult, TamperResult]:
    return cam.motion.update(frame.image), cam.tamper.update(frame.image)
