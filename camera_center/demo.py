"""The demo: the server, a simulated fleet of RTSP cameras, and a registry that knows them.

The simulator runs as a child process (its event loop and the server's readers do
not share one interpreter lock); it is stopped with the server.
"""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path

from pydantic import SecretStr

from camera_center.auth.roles import system_principal
from camera_center.logs import get_logger
from camera_center.registry.csv_io import import_cameras
from camera_center.registry.schemas import AreaCreate, AreaKind, CameraUpdate
from camera_center.rules.schemas import RuleCreate
from camera_center.services import Services
from camera_center.settings import Settings
from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME, SimCamera, build_fleet
from camera_sim.process import SimProcess
from camera_sim.scenes import LINE, ZONE

log = get_logger(__name__)

# Seconds of packets each reader keeps, so the demo's alerts get clips.
DEMO_PACKET_BUFFER_S = 12.0
# Sub streams (what analysis reads) at 5 frames per second, as analysis streams are
# often set up: at 15, the simulator and 400 readers need more than a two-core
# machine has, and the readers fall behind live.
DEMO_SUB_FPS = 5

# The demo records on events (motion, alerts) and keeps at most this much footage, so
# `make run` on a laptop never fills its disk: 400 simulated sub streams recorded
# continuously write about 11.6 MB/s (bench.recording). Either can be set in the settings.
DEMO_RECORD_MODE = "events"
DEMO_RECORD_MAX_GB = 5.0

DEMO_AREAS = Path("config/areas-phu-luong.csv")
DEMO_CAMERAS = Path("config/cameras.example.csv")
DEMO_RTSP_BASE = "rtsp://127.0.0.1:8554/"  # where DEMO_CAMERAS's streams are


async def seed_demo_areas(services: Services, areas_csv: str) -> int:
    """Province -> district -> the communes listed in *areas_csv* (code,name,kind)."""
    who = system_principal("demo")
    province = AreaCreate(id="TN", name="Tỉnh Thái Nguyên", kind=AreaKind.PROVINCE)
    district = AreaCreate(id="PLG", name="Huyện Phú Lương", kind=AreaKind.DISTRICT,
                          parent_id="TN")
    existing = {a.id for a in await services.areas.list()}
    if province.id not in existing:
        await services.areas.create(province, who)
    return await services.areas.seed_from_csv(areas_csv, who, parent=district)


def demo_cameras_csv(count: int | None = None, rtsp_base: str | None = None) -> bytes:
    """The demo fleet's CSV: its first *count* cameras (all: None), their streams at a
    simulator at *rtsp_base* (``rtsp://sim:8554/``) instead of this machine's."""
    lines = DEMO_CAMERAS.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    text = "".join(lines if count is None else lines[:count + 1])
    return (text.replace(DEMO_RTSP_BASE, rtsp_base) if rtsp_base else text).encode()


async def seed_demo_cameras(services: Services, cameras_csv: bytes) -> int:
    """Register the simulated fleet in *cameras_csv* once (an empty registry only), with
    the simulator's login on its password-protected camera and the demo's rules."""
    if await services.cameras.all_ids():
        return 0
    who = system_principal("demo")
    report = await import_cameras(services.cameras, cameras_csv, who, dry_run=False)
    fleet = build_fleet([row["id"] for row in csv.DictReader(
        io.StringIO(cameras_csv.decode("utf-8-sig"))) if row.get("id")])
    for camera in fleet:
        if camera.needs_auth:  # see camera_sim.fleet.build_fleet
            await services.cameras.update(camera.id, CameraUpdate(
                username=SIM_USERNAME, password=SecretStr(SIM_PASSWORD)), who)
    await seed_demo_rules(services, fleet)
    return report.created


def demo_rules(scene: str) -> list[RuleCreate]:
    """What a center would set up for each kind of simulated camera: every camera reports
    tampering and outages; the scripted scenes get the rules their incidents test."""
    zone = [list(p) for p in ZONE]
    rules = [RuleCreate(kind="tamper", name="Che, làm mờ hoặc xoay camera"),
             RuleCreate(kind="offline", name="Mất tín hiệu camera")]
    if scene == "intrusion":
        rules += [
            RuleCreate(kind="motion", name="Chuyển động ở cổng trước", zone=zone),
            RuleCreate(kind="intrusion", name="Người vào cổng trước", zone=zone,
                       classes=["person", "motorcycle", "bicycle"]),
            RuleCreate(kind="loitering", name="Đứng lâu ở cổng trước", zone=zone, dwell_s=8),
        ]
    elif scene == "crossing":
        rules += [
            RuleCreate(kind="line_crossing", name="Qua vỉa hè", line=[list(p) for p in LINE],
                       classes=["person", "motorcycle", "bicycle"], cooldown_s=5),
            RuleCreate(kind="motion", name="Chuyển động trên vỉa hè",
                       zone=[[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]], cooldown_s=60),
        ]
    return rules


async def seed_demo_rules(services: Services, fleet: list[SimCamera]) -> int:
    who = system_principal("demo")
    count = 0
    for camera in fleet:
        for rule in demo_rules(camera.scene):
            await services.rules.create(who, camera.id, rule)
            count += 1
    return count


def simulator(data_dir: Path, rtsp_port: int = 8554, control_port: int = 8555,
              sub_fps: int = DEMO_SUB_FPS) -> SimProcess:
    """The demo fleet's simulator (a context manager; the first start encodes the scenes)."""
    return SimProcess(data_dir / "sim-cache", ids_from=DEMO_CAMERAS, rtsp_port=rtsp_port,
                      control_port=control_port, quiet=False, sub_fps=sub_fps)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def demo_settings(settings: Settings) -> Settings:
    """The demo shows every way an alert goes out: clips from the readers' packet rings,
    and MQTT when a broker answers at the configured address (nothing else is needed);
    it records on events within a size cap unless the settings say otherwise."""
    ingest = settings.ingest.model_copy(update={
        "packet_buffer_s": max(settings.ingest.packet_buffer_s, DEMO_PACKET_BUFFER_S)})
    mqtt = settings.mqtt
    if not mqtt.enabled and _listening(mqtt.host, mqtt.port):
        mqtt = mqtt.model_copy(update={"enabled": True})
        log.info("demo publishes alerts over MQTT", broker=f"{mqtt.host}:{mqtt.port}",
                 topics=f"{mqtt.topic_prefix}/#")
    chosen = settings.recording.model_fields_set
    recording = settings.recording.model_copy(update={
        **({} if "mode" in chosen else {"mode": DEMO_RECORD_MODE}),
        **({} if "max_gb" in chosen else {"max_gb": DEMO_RECORD_MAX_GB})})
    return settings.model_copy(update={"ingest": ingest, "mqtt": mqtt,
                                       "recording": recording})
