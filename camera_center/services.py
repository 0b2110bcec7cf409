"""Everything the app holds for its lifetime, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from camera_center.auth.sessions import SessionManager
from camera_center.auth.tokens import TokenSigner
from camera_center.auth.users import UserDirectory
from camera_center.crypto import CredentialCipher, load_or_create_secrets
from camera_center.events import EventBus
from camera_center.registry.areas import AreaRegistry
from camera_center.registry.cameras import CameraRegistry
from camera_center.settings import Settings
from camera_center.storage.engine import Database


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


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    cipher: CredentialCipher
    sessions: SessionManager
    users: UserDirectory
    areas: AreaRegistry
    cameras: CameraRegistry
    metrics: Metrics

    @classmethod
    def build(cls, settings: Settings) -> Services:
        secrets = load_or_create_secrets(settings.secrets_path)
        db = Database(settings.database_url, echo=settings.database.echo,
                      pool_size=settings.database.pool_size)
        bus = EventBus()
        cipher = CredentialCipher(secrets.credentials_key)
        return cls(
            settings=settings, db=db, bus=bus, cipher=cipher,
            sessions=SessionManager(db, TokenSigner(secrets.jwt_secret), settings.auth),
            users=UserDirectory(db), areas=AreaRegistry(db, bus),
            cameras=CameraRegistry(db, cipher, bus), metrics=Metrics(),
        )

    async def close(self) -> None:
        await self.db.close()
