"""Everything the app holds for its lifetime, built once in the lifespan."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from camera_center.aio import cancel_all
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
from camera_center.cluster.fetch import RemoteFiles
from camera_center.cluster.heartbeat import Heartbeat, node_id_of
from camera_center.cluster.leases import LeaseStore, LeaseToken
from camera_center.cluster.link import ClusterLink
from camera_center.cluster.membership import MemberOptions, Membership
from camera_center.cluster.nodes import NodeRegistry
from camera_center.cluster.pins import PinStore
from camera_center.cluster.relays import (
    AlertDoorbell,
    AlertRelay,
    RegistryReceiver,
    RegistrySender,
)
from camera_center.console.live_relay import LiveRelay
from camera_center.console.tile_relay import RemoteWall, TilePublisher
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


class _Started(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Stop:
    def __init__(self, stop: Callable[[], Awaitable[None]]) -> None:
        self._stop = stop

    async def stop(self) -> None:
        await self._stop()


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
    pins: PinStore
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
    # Multi-server mode (cluster.role api or worker).
    link: ClusterLink | None = None
    membership: Membership | None = None
    remote_files: RemoteFiles | None = None
    cluster_parts: list[_Started] = field(default_factory=list)
    _membership_tasks: list[asyncio.Task[None]] = field(default_factory=list)

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
            mqtt=MqttPublisher(db, bus, settings.mqtt, node_id_of(settings)
                               if settings.cluster.role != "all" else None,
                               alerts=settings.cluster.role != "worker")
            if settings.mqtt.enabled else None,
            metrics=Metrics(), recordings=Recordings(settings, db, bus),
            nodes=NodeRegistry(db, settings.cluster.heartbeat_s), pins=PinStore(db),
        )

    async def start_ingest(self) -> None:
        """Start what this server's role runs (``cluster.role``)."""
        role = self.settings.cluster.role
        if role == "all":
            self.heartbeat = Heartbeat.of(self.nodes, self.settings, "all", lambda: len(
                self.fleet.supervisor.camera_ids()) if self.fleet is not None else 0)
            await self.heartbeat.start()
            await self._start_alerts(delivery=True)
            await self.recordings.start()
            if self.settings.ingest.enabled:
                await self._start_fleet(owned=None)
            return
        self.link = ClusterLink(self.settings.cluster.nats_url, node_id_of(self.settings))
        await self.link.connect()
        secret = self.settings.cluster.secret
        assert secret is not None, "checked by preflight"
        if role == "api":
            await self._start_api(secret.get_secret_value())
        else:
            await self._start_worker()

    async def _start_alerts(self, delivery: bool) -> None:
        await self.alerts.start()  # before analysis: no detection goes unheard
        if delivery:  # webhooks and MQTT: where the console is (one server or API servers)
            await self.webhook_dispatcher.start()
            if self.mqtt is not None:
                await self.mqtt.start()

    async def _start_fleet(self, owned: set[str] | None) -> Fleet:
        log_setup = functools.partial(configure_logging, self.settings.logging.level,
                                      self.settings.logging.format)
        self.fleet = fleet = Fleet(self.cameras, self.bus, self.settings.ingest, log_setup,
                                   self.settings.recording, self.recordings.root,
                                   self.recordings.on_segment, owned=owned)
        self.recordings.health_source = lambda: {
            cam: rec for cam in fleet.supervisor.camera_ids()
            if (rec := fleet.health(cam).get("recording"))}
        if self.settings.detector.enabled:
            # Subscribed before the readers start, so no first frame is missed.
            self.analysis = Analysis(fleet, self.rules, self.bus, self.settings.detector)
            await self.analysis.start()
        if self.settings.ingest.packet_buffer_s > 0:
            self.alerts.packets = fleet.supervisor.recent_packets
        if self.mqtt is not None:
            self.mqtt.status_source = lambda: {
                cam: fleet.health(cam) for cam in fleet.supervisor.camera_ids()}
        await fleet.start()
        return fleet

    async def _start_api(self, secret: str) -> None:
        """Console, REST and streams; the cameras are read by the workers."""
        assert self.link is not None
        node_id = node_id_of(self.settings)
        self.heartbeat = Heartbeat.of(self.nodes, self.settings, "api", lambda: 0)
        await self.heartbeat.start()
        self.remote_files = RemoteFiles(self.nodes, secret,
                                        self.settings.data_dir / "from-workers")
        self.recordings.index.node_id = node_id  # it records nothing: repairs nothing
        self.recordings.index.fetch = self.remote_files.segment
        self.alerts.media.fetch = self.remote_files.media
        self.recordings.exports.fetch = self.remote_files.export
        await self._start_alerts(delivery=True)
        await self.recordings.start()
        self.cluster_parts = [AlertRelay(self.db, self.bus, self.link),
                              RegistrySender(self.bus, self.link)]
        self.wall_feed.remote = RemoteWall(self.link, node_id)
        await self.wall_feed.remote.start()
        for part in self.cluster_parts:
            await part.start()

    async def _start_worker(self) -> None:
        """Read, analyse and record the cameras this worker's leases give it."""
        assert self.link is not None
        settings = self.settings
        heartbeat = Heartbeat.of(self.nodes, settings, "worker", lambda: len(
            self.fleet.supervisor.camera_ids()) if self.fleet is not None else 0)
        self.heartbeat = heartbeat
        owned: set[str] = set()
        self.membership = membership = Membership(
            MemberOptions(lease_s=settings.cluster.lease_s,
                          max_moves=settings.cluster.max_moves),
            LeaseStore(self.db), heartbeat, self.pins.placement, self._gain, self._lose)

        def fencing(camera_id: str) -> LeaseToken | None:
            return membership.held.get(camera_id)

        self.alerts.store.fencing = fencing
        self.alerts.media.node_id = heartbeat.node_id
        self.recordings.index.node_id = heartbeat.node_id
        self.recordings.index.fencing = fencing
        await self._start_alerts(delivery=False)
        await self.recordings.start()
        receiver = RegistryReceiver(self.bus, self.link)
        await receiver.start()
        fleet = await self._start_fleet(owned=owned)
        if self.mqtt is not None:  # its cameras' statuses; the API servers send alerts
            self.mqtt.still_watched = self.cameras.is_enabled
            await self.mqtt.start()
        tiles = TilePublisher(fleet, self.link, heartbeat.node_id)
        self.cluster_parts = [AlertDoorbell(self.bus, self.link), tiles]
        for part in self.cluster_parts:
            await part.start()
        self._membership_tasks = [
            asyncio.create_task(membership.run(), name="membership"),
            asyncio.create_task(membership.watch(), name="lease-watch")]

    async def _gain(self, tokens: list[LeaseToken]) -> None:
        if self.fleet is not None:
            await self.fleet.own([t.camera_id for t in tokens])
        log.info("cameras taken", cameras=len(tokens))

    async def _lose(self, camera_ids: list[str], finish_s: float) -> None:
        if self.fleet is not None:
            self.fleet.disown(camera_ids)
        if finish_s > 0:  # handed over: their last segments go in under the leases
            try:
                late = await self.recordings.settle(camera_ids, finish_s)
            except Exception as exc:  # best effort: the handover goes on regardless
                late = camera_ids
                log.warning("cannot tell whether the last segments are in",
                            error=type(exc).__name__)
            if late:
                log.warning("cameras handed over before their last segment was indexed",
                            cameras=late)
        log.info("cameras given up", cameras=len(camera_ids))

    async def _stop_membership(self) -> None:
        """A worker's clean stop: its readers stop, then its leases go back at once, so
        the others take its cameras on their next round instead of after a lease."""
        await cancel_all(self._membership_tasks)
        if self.membership is not None:
            await self.membership.leave()

    async def close(self) -> None:
        """Stop every part, each within a bound: a part stuck on a dead connection is
        logged by name (and listed in ``stuck_on_close``) and the others still stop."""
        # Viewers first: peer connections and wall sockets close before what they read.
        parts: list[tuple[str, _Part | None]] = [
            ("membership", _Stop(self._stop_membership)),
            ("live relay", self.live_relay), ("wall feed", self.wall_feed),
            *((type(p).__name__, p) for p in self.cluster_parts),
            ("analysis", self.analysis), ("fleet", self.fleet),
            ("recordings", self.recordings), ("mqtt", self.mqtt),
            ("webhooks", self.webhook_dispatcher), ("alerts", self.alerts),
            ("heartbeat", self.heartbeat), ("cluster link", self.link),
            ("remote files", self.remote_files)]
        stops = [(name, part.stop) for name, part in parts if part is not None]
        for name, stop in [*stops, ("database", self.db.close)]:
            try:
                await asyncio.wait_for(stop(), _STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("part did not stop in time", part=name, timeout_s=_STOP_TIMEOUT_S)
                self.stuck_on_close.append(name)
