"""Everything the app holds for its lifetime, built once in the lifespan."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from camera_center.alerts.live import AlertFeed
from camera_center.alerts.media import MediaStore
from camera_center.alerts.service import AlertService
from camera_center.alerts.store import AlertStore
from camera_center.analysis import Analysis
from camera_center.auth.access_watch import AccessWatch
from camera_center.auth.passwords import Passwords
from camera_center.auth.second_factor import SecondFactors
from camera_center.auth.sessions import SessionManager
from camera_center.auth.tokens import TokenSigner
from camera_center.auth.users import UserDirectory
from camera_center.cluster.heartbeat import Heartbeat
from camera_center.cluster.nodes import NodeRegistry
from camera_center.console.live_relay import LiveRelay
from camera_center.console.wall_feed import WallFeed
from camera_center.crypto import CredentialCipher, load_or_create_secrets
from camera_center.delivery.mqtt import MqttPublisher
from camera_center.delivery.subscriptions import WebhookStore
from camera_center.delivery.webhooks import WebhookDispatcher
from camera_center.events import EventBus
from camera_center.fleet import Fleet
from camera_center.load_sampler import LoadSampler
from camera_center.logs import configure_logging, get_logger
from camera_center.recording.service import Recordings
from camera_center.registry.areas import AreaRegistry
from camera_center.registry.cameras import CameraRegistry
from camera_center.rules.store import RuleStore
from camera_center.settings import Settings
from camera_center.storage.engine import Database

log = get_logger("camera_center.services")

# How long each part may take to stop (cancelling its tasks, closing connections).
_STOP_TIMEOUT_S = 10.0


class _Part(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("camera_center_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("camera_center_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=r,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.cameras = Gauge("camera_center_cameras", "Registered cameras", ["enabled"],
                             registry=r)
        self.users = Gauge("camera_center_users", "User accounts", registry=r)
        self.streams = Gauge("camera_center_camera_streams", "Cameras read, by stream state",
                             ["state"], registry=r)
        self.camera_fps = Gauge("camera_center_camera_fps", "Video packets per second in",
                                ["camera_id"], registry=r)
        self.camera_kbps = Gauge("camera_center_camera_kbps", "Stream bitrate in kbit/s",
                                 ["camera_id"], registry=r)
        self.camera_online = Gauge("camera_center_camera_online", "1 if the stream is online",
                                   ["camera_id"], registry=r)
        self.camera_packet_age = Gauge("camera_center_camera_packet_age_seconds",
                                       "Seconds since the last packet", ["camera_id"],
                                       registry=r)
        self.recording = Gauge("camera_center_recording_cameras",
                               "Cameras by recording state", ["state"], registry=r)
        self.recording_rate = Gauge("camera_center_recording_bytes_per_second",
                                    "Bytes written to recordings per second", registry=r)
        self.detector = Gauge("camera_center_detector_info",
                              "1 for the object detector that runs (labels: what and where)",
                              ["runtime", "device", "model"], registry=r)
        self.detector_images = Gauge("camera_center_detector_images",
                                     "Images the object detector has processed", registry=r)
        self.detector_busy = Gauge("camera_center_detector_busy_seconds",
                                   "Seconds the object detector has spent on inference",
                                   registry=r)

    def observe_detector(self, analysis: Analysis) -> None:
        """The detector's runtime, device and totals (rates: rate() in Prometheus)."""
        self.detector.clear()
        if analysis.backend is None or analysis.detector is None:
            return
        self.detector.labels(runtime=analysis.backend.runtime, device=analysis.backend.device,
                             model=str(analysis.settings.model)).set(1)
        self.detector_images.set(analysis.detector.stats.images)
        self.detector_busy.set(analysis.detector.stats.busy_s)

    def observe_fleet(self, fleet: Fleet) -> None:
        """Refresh the per-camera gauges (at scrape time, so cost follows scrapes)."""
        for gauge in (self.streams, self.camera_fps, self.camera_kbps, self.camera_online,
                      self.camera_packet_age):
            gauge.clear()
        for state, count in fleet.summary().items():
            self.streams.labels(state=state).set(count)
        self.recording.clear()
        recording: dict[str, int] = {}
        rate = 0.0
        for camera_id in fleet.supervisor.camera_ids():
            h = fleet.health(camera_id)
            self.camera_fps.labels(camera_id).set(h.get("fps_in") or 0)
            self.camera_kbps.labels(camera_id).set(h.get("kbps") or 0)
            self.camera_online.labels(camera_id).set(1 if h["state"] == "online" else 0)
            age = h.get("last_packet_age_s")
            if age is not None:
                self.camera_packet_age.labels(camera_id).set(age)
            rec = h.get("recording")
            if rec:
                recording[rec["state"]] = recording.get(rec["state"], 0) + 1
                rate += float(rec.get("bytes_per_s") or 0)
        for state, count in recording.items():
            self.recording.labels(state=state).set(count)
        self.recording_rate.set(rate)


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    cipher: CredentialCipher
    sessions: SessionManager
    second_factors: SecondFactors
    users: UserDirectory
    areas: AreaRegistry
    cameras: CameraRegistry
    rules: RuleStore
    alerts: AlertService
    alert_feed: AlertFeed
    webhooks: WebhookStore
    webhook_dispatcher: WebhookDispatcher
    metrics: Metrics
    recordings: Recordings
    nodes: NodeRegistry
    # Stream tests from the admin page: several admins at once must not tie up the
    # server's worker threads.
    probe_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    # ONVIF inspections at once: each holds sockets for seconds.
    onvif_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    mqtt: MqttPublisher | None = None  # when mqtt.enabled
    fleet: Fleet | None = None  # started in the lifespan when ingest is enabled
    analysis: Analysis | None = None  # likewise, when the detector is enabled too
    stuck_on_close: list[str] = field(default_factory=list)
    # The console's live parts; they read the fleet once ingest has started it.
    live_relay: LiveRelay = field(default_factory=LiveRelay)
    wall_feed: WallFeed = field(init=False)
    load: LoadSampler = field(default_factory=LoadSampler)
    heartbeat: Heartbeat | None = None  # started with the other parts

    def __post_init__(self) -> None:
        self.wall_feed = WallFeed(self.cameras, lambda: self.fleet)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        secrets = load_or_create_secrets(settings)
        db = Database(settings.database_url, echo=settings.database.echo,
                      pool_size=settings.database.pool_size)
        bus = EventBus()
        cipher = CredentialCipher(secrets.credentials_key)
        cameras = CameraRegistry(db, cipher, bus)
        passwords = Passwords(settings.auth.password_hash)
        access_watch = AccessWatch()  # one for both: users' changes end their streams
        sessions = SessionManager(db, TokenSigner(secrets.jwt_secret), settings.auth,
                                  passwords, access_watch)
        alerts = AlertService(AlertStore(db, bus, settings.alerts.dedupe_window_s),
                              MediaStore(settings.data_dir / "media"), cameras, bus,
                              settings.alerts, settings.retention)
        return cls(
            settings=settings, db=db, bus=bus, cipher=cipher,
            sessions=sessions, second_factors=SecondFactors(db, cipher, sessions),
            users=UserDirectory(db, passwords, access_watch), areas=AreaRegistry(db, bus),
            cameras=cameras, rules=RuleStore(db, cameras, bus), alerts=alerts,
            alert_feed=AlertFeed(db, bus, settings.alerts.replay_max_events),
            webhooks=WebhookStore(db, cipher),
            webhook_dispatcher=WebhookDispatcher(db, bus, cipher, settings.webhooks,
                                                 keep_days=settings.retention.alert_events_days),
            mqtt=MqttPublisher(db, bus, settings.mqtt) if settings.mqtt.enabled else None,
            metrics=Metrics(), recordings=Recordings(settings, db, bus),
            nodes=NodeRegistry(db, settings.cluster.heartbeat_s),
        )

    async def start_ingest(self) -> None:
        self.heartbeat = Heartbeat.of(self.nodes, self.settings, "all", lambda: len(
            self.fleet.supervisor.camera_ids()) if self.fleet is not None else 0)
        await self.heartbeat.start()
        await self.alerts.start()  # before analysis: no detection goes unheard
        await self.webhook_dispatcher.start()
        if self.mqtt is not None:
            await self.mqtt.start()
        await self.recordings.start()
        if self.settings.ingest.enabled:
            log_setup = functools.partial(configure_logging, self.settings.logging.level,
                                          self.settings.logging.format)
            self.fleet = Fleet(self.cameras, self.bus, self.settings.ingest, log_setup,
                               self.settings.recording, self.recordings.root,
                               self.recordings.on_segment)
            fleet = self.fleet
            self.recordings.health_source = lambda: {
                cam: rec for cam in fleet.supervisor.camera_ids()
                if (rec := fleet.health(cam).get("recording"))}
            if self.settings.detector.enabled:
                # Subscribed before the readers start, so no first frame is missed.
                self.analysis = Analysis(self.fleet, self.rules, self.bus,
                                         self.settings.detector)
                await self.analysis.start()
            if self.settings.ingest.packet_buffer_s > 0:
                self.alerts.packets = self.fleet.supervisor.recent_packets
            if self.mqtt is not None:
                fleet = self.fleet
                self.mqtt.status_source = lambda: {
                    cam: fleet.health(cam) for cam in fleet.supervisor.camera_ids()}
            await self.fleet.start()

    async def close(self) -> None:
        """Stop every part, each within a bound: a part stuck on a dead connection is
        logged by name (and listed in ``stuck_on_close``) and the others still stop."""
        # Viewers first: peer connections and wall sockets close before what they read.
        parts: list[tuple[str, _Part | None]] = [
            ("live relay", self.live_relay), ("wall feed", self.wall_feed),
            ("analysis", self.analysis), ("fleet", self.fleet),
            ("recordings", self.recordings), ("mqtt", self.mqtt),
            ("webhooks", self.webhook_dispatcher), ("alerts", self.alerts),
            ("heartbeat", self.heartbeat)]
        stops = [(name, part.stop) for name, part in parts if part is not None]
        for name, stop in [*stops, ("database", self.db.close)]:
            try:
                await asyncio.wait_for(stop(), _STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("part did not stop in time", part=name, timeout_s=_STOP_TIMEOUT_S)
                self.stuck_on_close.append(name)
