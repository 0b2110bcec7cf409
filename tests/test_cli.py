"""The camera-center command, run as a user would run it."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from camera_center.demo import DEMO_PACKET_BUFFER_S, demo_settings, seed_demo_areas
from camera_center.services import Services
from camera_center.settings import Settings, load_settings
from camera_sim.process import free_port

CLI = [sys.executable, "-m", "camera_center"]


def cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMERA_CENTER_")}
    env["CAMERA_CENTER_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_first_admin_import_and_export(tmp_path: Path) -> None:
    assert cli(tmp_path, "migrate").returncode == 0
    r = cli(tmp_path, "user", "add", "--role", "admin", "chief", "--password-stdin",
            stdin="Chief-pass-2026\n")
    assert r.returncode == 0, r.stderr
    assert "created admin 'chief'" in r.stdout
    r = cli(tmp_path, "user", "list")
    assert "chief\tadmin\tactive" in r.stdout

    csv_file = tmp_path / "cams.csv"
    csv_file.write_text("id,name,area_id,main_url,username,password\n"
                        "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,admin,Cli-secret-77\n"
                        "yn-001,UBND,NOPE,rtsp://127.0.0.2/m,,\n", encoding="utf-8")
    # Areas are data: seed the demo tree the file refers to.
    async def seed() -> None:
        services = Services.build(load_settings(None, data_dir=str(tmp_path / "data")))
        try:
            await seed_demo_areas(services, Path("config/areas-phu-luong.csv").read_text(
                encoding="utf-8"))
        finally:
            await services.close()

    asyncio.run(seed())
    r = cli(tmp_path, "cameras", "import", str(csv_file))
    assert r.returncode == 1  # one row had an error
    assert "1 created" in r.stdout and "1 errors" in r.stdout
    assert "line 3 (yn-001): area_id: area 'NOPE' does not exist" in r.stderr
    assert "Cli-secret-77" not in r.stdout + r.stderr
    r = cli(tmp_path, "cameras", "export")
    assert r.returncode == 0
    assert "du-001,Chợ Đu,DU" in r.stdout and "Cli-secret-77" not in r.stdout


def test_bad_settings_stop_the_cli_with_the_key_named(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("databse:\n  url: x\n", encoding="utf-8")
    r = cli(tmp_path, "migrate", "--config", str(cfg))
    assert r.returncode == 2
    assert "databse: unknown key" in r.stderr and "Traceback" not in r.stderr


def test_weak_password_is_refused_by_the_cli(tmp_path: Path) -> None:
    r = cli(tmp_path, "user", "add", "--role", "admin", "chief", "--password-stdin",
            stdin="short\n")
    assert r.returncode == 1 and "password" in r.stderr and "Traceback" not in r.stderr


def test_the_demo_registry_comes_with_rules_for_its_scripted_incidents(tmp_path: Path) -> None:
    from camera_center.demo import DEMO_CAMERAS, demo_cameras_csv, seed_demo_cameras
    from camera_center.storage import migrate
    from camera_sim.fleet import build_fleet, ids_from_csv

    async def seed() -> dict[str, set[str]]:
        services = Services.build(load_settings(None, data_dir=str(tmp_path / "data")))
        try:
            await migrate.upgrade(services.db)
            await seed_demo_areas(services, Path("config/areas-phu-luong.csv").read_text(
                encoding="utf-8"))
            assert await seed_demo_cameras(services, demo_cameras_csv()) == 400
            kinds = {}
            for cam in build_fleet(ids_from_csv(DEMO_CAMERAS))[:20]:
                kinds[cam.scene] = {r.kind for r in await services.rules.specs(cam.id)}
            return kinds
        finally:
            await services.close()

    kinds = asyncio.run(seed())
    assert all({"tamper", "offline"} <= k for k in kinds.values())
    assert {"motion", "intrusion", "loitering"} <= kinds["intrusion"]
    assert "line_crossing" in kinds["crossing"]
    assert kinds["quiet"] == {"tamper", "offline"}


def test_demo_seed_registers_the_first_cameras_at_the_simulator_named_once(
        tmp_path: Path) -> None:
    """What docker-compose's seed service runs: the demo fleet's first cameras, pointed at
    the sim service, with their rules; a second run changes nothing."""
    assert cli(tmp_path, "migrate").returncode == 0
    r = cli(tmp_path, "demo-seed", "--cameras", "5", "--rtsp-base", "rtsp://sim:8554/")
    assert r.returncode == 0, r.stderr
    assert "5 cameras registered" in r.stdout
    exported = cli(tmp_path, "cameras", "export").stdout.splitlines()
    assert len(exported) == 6 and exported[1].startswith("du-001,")
    assert all("rtsp://sim:8554/" in line and "127.0.0.1" not in line
               for line in exported[1:])

    async def rules_and_login() -> tuple[int, int]:
        services = Services.build(load_settings(None, data_dir=str(tmp_path / "data")))
        try:
            ids = await services.cameras.all_ids()
            rules = sum([len(await services.rules.specs(cam)) for cam in ids])
            sources = [await services.cameras.stream_source(cam) for cam in ids]
            return rules, sum(1 for src in sources if src and "@sim:8554" in src.main_url)
        finally:
            await services.close()

    rules, with_login = asyncio.run(rules_and_login())
    assert rules >= 10 and with_login == 1  # the simulator's password-protected camera
    again = cli(tmp_path, "demo-seed", "--cameras", "5", "--rtsp-base", "rtsp://sim:8554/")
    assert again.returncode == 0 and "registered already" in again.stdout
    r = cli(tmp_path, "demo-seed", "--cameras", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_the_demo_keeps_packets_for_clips_and_uses_mqtt_only_where_a_broker_answers() -> None:
    no_broker = demo_settings(Settings(mqtt={"port": free_port()}))
    assert no_broker.ingest.packet_buffer_s == DEMO_PACKET_BUFFER_S
    assert not no_broker.mqtt.enabled  # make run needs no other service
    with_broker = demo_settings(Settings(mqtt={"port": 1883}))  # the local Mosquitto
    assert with_broker.mqtt.enabled


def test_the_demo_records_on_events_within_a_cap_unless_told_otherwise() -> None:
    demo = demo_settings(Settings(mqtt={"port": free_port()}))
    assert demo.recording.mode == "events" and demo.recording.max_gb == 5.0
    chosen = demo_settings(Settings(mqtt={"port": free_port()},
                                    recording={"mode": "continuous", "max_gb": 50}))
    assert chosen.recording.mode == "continuous" and chosen.recording.max_gb == 50


def test_a_cluster_role_without_postgresql_nats_or_shared_secrets_says_what_is_missing(
        tmp_path: Path) -> None:
    cfg = tmp_path / "worker.yaml"
    # Nothing listens on that port: NATS unreachable.
    cfg.write_text(f"cluster:\n  nats_url: nats://127.0.0.1:{free_port()}\n"
                   "server:\n  host: 0.0.0.0\n", encoding="utf-8")
    r = cli(tmp_path, "serve", "--role", "worker", "--config", str(cfg))
    assert r.returncode == 2, r.stderr
    for problem in ("needs PostgreSQL", "needs cluster.secret", "needs credentials_key",
                    "needs jwt_secret", "needs cluster.internal_address",
                    "cannot reach NATS"):
        assert problem in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "data" / "camera-center.db").exists(), "it started anyway"
