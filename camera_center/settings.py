"""One settings tree, read from ``config/camera-center.yaml`` and ``CAMERA_CENTER_*`` variables.

Environment beats YAML beats defaults. Nested keys use ``__`` in variable names
(``CAMERA_CENTER_SERVER__PORT=8080``). Unknown keys anywhere are errors that name
the key, so a typo never turns silently into a default.
"""

from __future__ import annotations

import base64
import os
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "CAMERA_CENTER_"
# An HMAC-SHA256 key shorter than this is guessable offline from one token.
MIN_JWT_SECRET_LENGTH = 32
FERNET_KEY_PROBLEM = "must be a Fernet key: 32 url-safe base64-encoded bytes"
CONFIG_ENV = "CAMERA_CENTER_CONFIG"
DEFAULT_CONFIG = Path("config/camera-center.yaml")


def is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):
        return False


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    max_import_bytes: Annotated[int, Field(ge=1024)] = 16_777_216
    metrics_token: SecretStr | None = None
    # Addresses of reverse proxies whose X-Forwarded-For may be trusted.
    trusted_proxies: list[str] = Field(default_factory=list)


class DatabaseSettings(_Section):
    # None: SQLite file ``camera-center.db`` in the data directory.
    url: str | None = None
    auto_migrate: bool = True
    echo: bool = False
    pool_size: Annotated[int, Field(ge=1)] = 10


class PasswordHashSettings(_Section):
    # argon2id's cost. These are argon2-cffi's defaults (RFC 9106's low-memory profile):
    # about 150 ms a hash on this project's 2-core machine, the price of a sign-in.
    time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    memory_kib: Annotated[int, Field(ge=64, le=4_194_304)] = 65_536
    parallelism: Annotated[int, Field(ge=1, le=64)] = 4


RoleName = Literal["admin", "operator", "officer"]


def _admins_only() -> list[RoleName]:
    return ["admin"]


class AuthSettings(_Section):
    access_token_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    refresh_token_days: Annotated[int, Field(ge=1, le=90)] = 7
    lockout_threshold: Annotated[int, Field(ge=1)] = 5
    address_lockout_threshold: Annotated[int, Field(ge=1)] = 20
    lockout_window_minutes: Annotated[int, Field(ge=1)] = 15
    # Session cookies marked Secure (the browser sends them over HTTPS only). "auto": on
    # unless the server listens on loopback only (browsers keep Secure cookies for
    # http://localhost, so a local container still works; a LAN address needs TLS).
    cookie_secure: bool | Literal["auto"] = "auto"
    # Roles that must sign in with a second factor (TOTP): until they enrol one, their
    # sessions can do nothing else. Others may enrol one if they want.
    second_factor_roles: list[RoleName] = Field(default_factory=_admins_only)
    # The name authenticator apps show beside the account.
    totp_issuer: Annotated[str, Field(min_length=1, max_length=64)] = "Trung tâm camera"
    # Open streams re-check their user this often (and at once when this process changes
    # the user); a change made by another server process takes effect within it.
    stream_recheck_s: Annotated[float, Field(ge=1, le=600)] = 30.0
    # "username:password", used once to create the first admin on an empty database.
    bootstrap_admin: SecretStr | None = None
    password_hash: PasswordHashSettings = Field(default_factory=PasswordHashSettings)

    def secure_cookies(self, server_host: str) -> bool:
        """Whether session cookies get the Secure flag on a server listening on *server_host*."""
        if self.cookie_secure != "auto":
            return bool(self.cookie_secure)
        if server_host == "localhost":
            return False
        try:
            return not ip_address(server_host).is_loopback
        except ValueError:  # a host name: not loopback as far as we can tell
            return True


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"


class DetectorSettings(_Section):
    enabled: bool = True              # analyse frames (motion, objects, rules)
    # An exported model (camera-center models export yolo11n.pt --imgsz 320): .onnx,
    # or an OpenVINO .xml; a .pt needs PyTorch (pip install 'camera-center[export]').
    model: Path = Path("models/yolo11n-320.onnx")
    # auto: ONNX Runtime on an NVIDIA GPU, OpenVINO on an Intel CPU (2x ONNX Runtime
    # there), ONNX Runtime elsewhere; ultralytics for a .pt (detectors/backends).
    runtime: Literal["auto", "openvino", "onnxruntime", "ultralytics"] = "auto"
    device: str = "auto"   # auto, cpu; gpu / npu (OpenVINO); cuda[:N] / tensorrt (ONNX RT)
    # auto: the runtime's fastest (OpenVINO: bfloat16 on CPUs that have it); f32: full.
    precision: Literal["auto", "f32"] = "auto"
    # OpenVINO: latency runs a batch as one request over every core; throughput runs
    # its images side by side (bench/detect.py measures both).
    openvino_hint: Literal["latency", "throughput"] = "latency"
    imgsz: Annotated[int, Field(ge=32, le=1920, multiple_of=32)] = 320
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.4
    classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    )
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    batch_wait_ms: Annotated[int, Field(ge=0, le=1000)] = 50

    @field_validator("runtime", mode="before")
    @classmethod
    def _renamed_runtime(cls, value: object) -> object:
        # Before the direct runtimes: "native" ran the file with ultralytics, "onnx"
        # exported it at start and ran ONNX Runtime (now: camera-center models export).
        return {"native": "ultralytics", "onnx": "onnxruntime"}.get(str(value), value)


class IngestSettings(_Section):
    enabled: bool = True              # read the cameras' streams (off: registry and API only)
    prefer_sub_stream: bool = True    # analyse the sub stream when a camera has one
    # A busy camera or recorder, or a radio link, can take seconds per RTSP answer. 399
    # readers opening at once against the loaded 400-camera simulator: 281 failed opens
    # at 5 s, 23 at 10 s (and every failure is another handshake for the server).
    open_timeout_s: Annotated[float, Field(gt=0, le=60)] = 10.0
    read_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0   # silence -> "stalled"
    # A reader this far behind a camera's live edge (a busy machine: packets queue in the
    # socket) reconnects, dropping the backlog: late pictures make late alerts and hide
    # stalls. 0: never.
    max_lag_s: Annotated[float, Field(ge=0, le=600)] = 30.0
    analysis_width: Annotated[int, Field(ge=64, le=1920, multiple_of=2)] = 320
    idle_decode_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Connections being opened at once, per reader process: after a start or an outage,
    # hundreds of cameras all connecting at once time out against the recorder, a
    # switch or (here) the simulator, and each failure is another handshake. 12: the
    # recovery wave below paces the attempts; 8 opens (~23/s) held it back (0022).
    max_concurrent_opens: Annotated[int, Field(ge=1, le=256)] = 12
    # When one camera comes back after a network failure, the others sleeping in backoff
    # after one retry now, at most this many connection attempts a second in all (0:
    # backoff alone). 400 cameras after a 30 s outage: 13 s instead of 29 s (0022).
    recovery_attempts_per_s: Annotated[float, Field(ge=0, le=1000)] = 45.0
    backoff_cap_s: Annotated[float, Field(ge=1, le=600)] = 30.0
    auth_backoff_cap_s: Annotated[float, Field(ge=1, le=3600)] = 300.0
    offline_grace_s: Annotated[float, Field(ge=0, le=86400)] = 60.0
    # Seconds of recent packets kept per camera, as received, for clips (0: none).
    packet_buffer_s: Annotated[float, Field(ge=0, le=120)] = 0.0
    # Reader processes; None: one per CPU core; 0: readers run inside the server process.
    worker_processes: Annotated[int, Field(ge=0, le=64)] | None = None


class AlertSettings(_Section):
    # Detections of the same camera and rule this close together are one incident: the
    # open alert is updated (occurrences, last seen) instead of a new one being raised.
    dedupe_window_s: Annotated[float, Field(ge=0, le=86400)] = 120.0
    snapshot_quality: Annotated[int, Field(ge=30, le=100)] = 85
    # The clip around an alert's first detection, cut from the packets ingest keeps
    # (needs ingest.packet_buffer_s of at least clip_before_s + clip_after_s).
    clip_before_s: Annotated[float, Field(ge=0, le=60)] = 5.0
    clip_after_s: Annotated[float, Field(ge=0, le=60)] = 5.0
    # A stream resumed from an old event id replays at most this many of the newest
    # events (of everyone's, before the caller's filters): a resume from id 0 would
    # otherwise read the whole event log. Older history is in GET /alerts.
    replay_max_events: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000


class WebhookSettings(_Section):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 10  # then the delivery is dead
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    backoff_cap_s: Annotated[float, Field(gt=0, le=86400)] = 900.0
    concurrency: Annotated[int, Field(ge=1, le=100)] = 8


class MqttSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password: SecretStr | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = "camera-center"
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]{1,64}$")] = "camera-center"
    status_every_s: Annotated[float, Field(gt=0, le=300)] = 5.0  # camera state check


class RetentionSettings(_Section):
    alerts_days: Annotated[int, Field(ge=1)] = 180
    snapshots_days: Annotated[int, Field(ge=1)] = 60
    clips_days: Annotated[int, Field(ge=1)] = 30
    # How far back a reconnecting stream or a webhook that was down can catch up.
    alert_events_days: Annotated[int, Field(ge=1)] = 14
    max_media_gb: Annotated[float, Field(gt=0)] = 50.0
    audit_days: Annotated[int, Field(ge=30)] = 365


class RecordingSettings(_Section):
    # What every camera does unless its own record/record_stream/retention_days say
    # otherwise. Continuous recording of 400 sub streams of the simulator writes about
    # 11.6 MB/s (about 230 kbit/s each, bench.recording): size the disk, or the caps
    # below, to match.
    mode: Literal["continuous", "events", "off"] = "continuous"
    stream: Literal["main", "sub"] = "sub"
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # None: <data_dir>/recordings. A separate disk is usual.
    path: Path | None = None
    segment_s: Annotated[float, Field(ge=5, le=600)] = 60.0
    pre_roll_s: Annotated[float, Field(ge=0, le=60)] = 5.0    # events mode
    post_roll_s: Annotated[float, Field(ge=0, le=600)] = 10.0  # events mode
    # Oldest unheld footage goes first when recordings pass this size (0: no cap) ...
    max_gb: Annotated[float, Field(ge=0)] = 0.0
    # ... or when the disk's free space falls under this floor; writers stop opening
    # segments under it, so a full disk never truncates a file mid-write.
    min_free_gb: Annotated[float, Field(ge=0)] = 2.0
    retention_every_s: Annotated[float, Field(ge=1, le=86400)] = 60.0
    # Longest range one export may cover, per camera.
    export_max_hours: Annotated[float, Field(gt=0, le=168)] = 24.0
    # Longest stretch one playback request returns; the console asks for the next one.
    playback_window_s: Annotated[float, Field(ge=10, le=3600)] = 600.0
    # The Ed25519 key that signs export manifests; None: <data_dir>/export-signing.key,
    # created on first use. Back it up with the secrets: old exports verify against it.
    signing_key_file: Path | None = None
    # How exports name this server in their manifest; None: the host name.
    server_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class ClusterSettings(_Section):
    # This server's name among the center's servers, stable across restarts; None: the
    # host name.
    node_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] | None = None
    # Its share of the cameras against other workers' (several servers).
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    # How often it says it is alive: the servers list shows it late after three missed
    # beats and down after six.
    heartbeat_s: Annotated[float, Field(ge=0.5, le=60)] = 5.0
    # What this server does: all (one server: cameras, console and API, the default),
    # api (console, REST and streams, no cameras) or worker (reads, analyses and records
    # the cameras it owns; serves only its health and the internal endpoint). api and
    # worker need PostgreSQL, NATS and the cluster secret. ``serve --role`` overrides it.
    role: Literal["all", "api", "worker"] = "all"
    # NATS, which carries tiles, health, registry changes and live alerts between servers.
    nats_url: str = "nats://127.0.0.1:4222"
    # Shared by the center's servers: a worker refuses an internal call without it.
    secret: SecretStr | None = None
    # Where the other servers reach this one (its internal endpoint); None:
    # http://<server.host>:<server.port>.
    internal_address: str | None = None
    # A worker owns a camera for this long per renewal; its cameras are read elsewhere
    # about this long after it dies (plus one round).
    lease_s: Annotated[float, Field(ge=2, le=120)] = 8.0
    # At most this many cameras leave one worker per round when the shares are evened
    # (a worker joining): a few short gaps, not a fleet-wide reconnect.
    max_moves: Annotated[int, Field(ge=1, le=1000)] = 10

    @field_validator("secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(f"cluster.secret must have at least {MIN_JWT_SECRET_LENGTH} "
                             "characters")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    data_dir: Path = Path("data")
    # None: ``secrets.json`` in the data directory, created on first start.
    secrets_file: Path | None = None
    # The two server secrets can instead be given directly (CAMERA_CENTER_CREDENTIALS_KEY,
    # CAMERA_CENTER_JWT_SECRET) or as files (a container's mounted secrets); each one
    # given this way wins over the secrets file. Never logged, never in a response.
    credentials_key: SecretStr | None = None
    credentials_key_file: Path | None = None
    jwt_secret: SecretStr | None = None
    jwt_secret_file: Path | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @field_validator("credentials_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_fernet_key(value.get_secret_value()):
            raise ValueError(FERNET_KEY_PROBLEM)
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_JWT_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> Settings:
        for name in ("credentials_key", "jwt_secret"):
            if getattr(self, name) is not None and getattr(self, f"{name}_file") is not None:
                raise ValueError(f"give {name} or {name}_file, not both")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'camera-center.db').resolve()}"

    @property
    def secrets_path(self) -> Path:
        return self.secrets_file or self.data_dir / "secrets.json"

    @property
    def recordings_path(self) -> Path:
        return self.recording.path or self.data_dir / "recordings"

    @property
    def exports_path(self) -> Path:
        return self.data_dir / "exports"

    @property
    def signing_key_path(self) -> Path:
        return self.recording.signing_key_file or self.data_dir / "export-signing.key"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # YAML is passed in as init kwargs by load_settings(); env wins over it.
        return (env_settings, init_settings)


class SettingsError(Exception):
    """Configuration that cannot be used; the message names the key and the problem."""


def _unknown_env_keys(environ: dict[str, str]) -> list[str]:
    """``CAMERA_CENTER_*`` variables that match no setting (pydantic-settings ignores them)."""
    unknown = []
    for name in environ:
        if not name.upper().startswith(ENV_PREFIX) or name.upper() == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        model: type[BaseModel] | None = Settings
        for part in path:
            fields = model.model_fields if model else {}
            if part not in fields:
                unknown.append(name)
                break
            annotation = fields[part].annotation
            model = annotation if isinstance(annotation, type) and issubclass(
                annotation, BaseModel) else None
    return unknown


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key}: {message}")
    return f"invalid settings ({source}):\n" + "\n".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read YAML (if present) and the environment, and validate everything.

    *config_file* defaults to ``$CAMERA_CENTER_CONFIG`` or ``config/camera-center.yaml``;
    a missing default file is fine, a missing named file is an error.
    """
    named = config_file or (Path(os.environ[CONFIG_ENV]) if CONFIG_ENV in os.environ else None)
    path = named or DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"settings file {path} must hold a mapping at the top level")
        data = loaded or {}
    elif named is not None:
        raise SettingsError(f"settings file {path} does not exist")
    unknown = _unknown_env_keys(dict(os.environ))
    if unknown:
        raise SettingsError("unknown environment settings: " + ", ".join(sorted(unknown)))
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(_format_errors(exc, str(path))) from exc
