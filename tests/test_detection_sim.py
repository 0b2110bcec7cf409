"""Detection against the simulator's incident timeline: motion, tamper and offline events
come from the right cameras at the right times; a still camera stays silent."""

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from camera_sim.scenes import ZONE
from tests.conftest import World, services_of
from tests.waiting import wait_until

EVERYWHERE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


@pytest.fixture
def analysed(make_settings: Callable[..., Settings], tmp_path) -> Iterator[World]:
    settings = make_settings(
        ingest={"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3,
                "backoff_cap_s": 2, "offline_grace_s": 3},
        detector={"model": str(tmp_path / "no-model.pt")})  # motion-only, as on a fresh box
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield World(client)


def add(world: World, sim: SimProcess, cam: str, rules: list[dict]) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin, json={
        "id": cam, "name": f"Sim {cam}", "area_id": "DU",
        "main_url": sim.url(cam, "main"), "sub_url": sim.url(cam, "sub")})
    assert r.status_code == 201, r.text
    for rule in rules:
        r = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin, json=rule)
        assert r.status_code == 201, r.text


def events(world: World, cam: str, kind: str) -> list[dict]:
    analysis = services_of(world.client).analysis
    assert analysis is not None
    return [e for e in list(analysis.recent) if e["camera_id"] == cam and e["kind"] == kind]


def test_incidents_become_events_at_the_right_cameras(analysed: World, sim: SimProcess) -> None:
    started = time.time()
    add(analysed, sim, "cam017", [{"kind": "motion", "name": "Cổng trước",
                                   "zone": [list(p) for p in ZONE], "cooldown_s": 0}])
    add(analysed, sim, "cam019", [{"kind": "tamper", "name": "Che ống kính"}])
    add(analysed, sim, "cam020", [{"kind": "offline", "name": "Mất tín hiệu"}])
    add(analysed, sim, "cam023", [{"kind": "motion", "name": "Toàn cảnh", "zone": EVERYWHERE},
                                  {"kind": "tamper", "name": "Che"}])
    time.sleep(8)  # connected, references learned
    sim.fault("cam020", "stop", seconds=15)

    wait_until(lambda: events(analysed, "cam017", "motion") and events(analysed, "cam019", "tamper")
               and events(analysed, "cam020", "offline"), 75,
               "motion at cam017, tamper at cam019 and offline at cam020", interval_s=1)

    incidents = sim.timeline(started)["incidents"]
    entered = [i["at"] for i in incidents if i["camera_id"] == "cam017"
               and i["kind"] == "zone_enter"]
    motion = [datetime.fromisoformat(e["frame_at"]).timestamp()
              for e in events(analysed, "cam017", "motion")]
    # Each entry into the zone is seen within a few seconds (one analysed frame a second).
    assert entered and motion
    assert any(-2.5 <= m - entered[0] <= 4 for m in motion), (entered, motion)

    covered = [i["at"] for i in incidents if i["camera_id"] == "cam019" and i["kind"] == "covered"]
    tamper = events(analysed, "cam019", "tamper")
    assert covered and tamper
    t = datetime.fromisoformat(tamper[0]["frame_at"]).timestamp()
    assert any(-1 <= t - c <= 8 for c in covered), (covered, t)  # during the 8 s cover
    assert tamper[0]["detail"]["tamper"] == "covered"

    offline = events(analysed, "cam020", "offline")
    assert offline and offline[0]["detail"]["state"] in ("offline", "stalled")

    # The still street: neither motion nor tamper in all that time.
    assert events(analysed, "cam023", "motion") == []
    assert events(analysed, "cam023", "tamper") == []

    # Stored as alerts: each incident one alert at its camera, however often it fired.
    alerts = stored_alerts(analysed, 3)
    assert sorted((a["camera_id"], a["kind"]) for a in alerts) == [
        ("cam017", "motion"), ("cam019", "tamper"), ("cam020", "camera_offline")]
    by_cam = {a["camera_id"]: a for a in alerts}
    assert by_cam["cam017"]["occurrences"] == len(events(analysed, "cam017", "motion"))
    assert by_cam["cam019"]["has_snapshot"] and not by_cam["cam020"]["has_snapshot"]
    r = analysed.client.get(f"/api/v1/alerts/{by_cam['cam019']['id']}/snapshot",
                            headers=analysed.admin)
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"  # a JPEG


def stored_alerts(world: World, at_least: int) -> list[dict]:
    # The alert service stores what analysis published.
    return wait_until(
        lambda: world.client.get("/api/v1/alerts", headers=world.admin).json()["items"], 10,
        f"{at_least} stored alerts", until=lambda items: len(items) >= at_least, interval_s=0.5)


def test_moving_frames_reach_the_object_detector_in_batches_and_fire_tracked_events(
        make_settings: Callable[..., Settings], sim: SimProcess, model_onnx) -> None:
    """The whole path with an exported model on the default runtime (no PyTorch): ingest
    -> motion -> batched YOLO -> ByteTrack -> rules. (The test model says "person"
    everywhere, so only the plumbing is judged.)"""
    settings = make_settings(ingest={"enabled": True, "open_timeout_s": 4},
                             detector={"model": str(model_onnx), "batch_wait_ms": 100})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = World(client)
        add(world, sim, "cam018", [{"kind": "intrusion", "name": "Toàn cảnh",
                                    "zone": EVERYWHERE, "cooldown_s": 0}])
        add(world, sim, "cam023", [{"kind": "intrusion", "name": "Đường vắng",
                                    "zone": EVERYWHERE}])
        analysis = services_of(client).analysis
        assert analysis is not None and analysis.detector is not None
        assert analysis.backend is not None and analysis.backend.runtime in (
            "openvino", "onnxruntime")
        fired = wait_until(lambda: events(world, "cam018", "intrusion"), 45,
                           lambda: f"an intrusion at cam018 (analysis: {analysis.stats})",
                           interval_s=1)
        assert fired[0]["label"] == "person" and fired[0]["track_id"] is not None
        assert 0.7 < fired[0]["score"] < 0.75  # what the test model says
        # The still street never had motion, so it never cost a detection.
        assert events(world, "cam023", "intrusion") == []
        stats = analysis.stats
        assert stats.sent_to_detector <= stats.with_motion < stats.frames


@pytest.mark.slow  # over 10 s: run by make test-slow and CI
def test_an_alert_gets_a_clip_around_its_first_detection(
        make_settings: Callable[..., Settings], sim: SimProcess, tmp_path) -> None:
    settings = make_settings(
        ingest={"enabled": True, "open_timeout_s": 4, "packet_buffer_s": 12},
        detector={"model": str(tmp_path / "no-model.pt")},
        alerts={"clip_before_s": 3, "clip_after_s": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = World(client)
        add(world, sim, "cam018", [{"kind": "motion", "name": "Toàn cảnh", "zone": EVERYWHERE}])

        def first_alert() -> dict:
            items = client.get("/api/v1/alerts", headers=world.admin).json()["items"]
            return items[0] if items else {}

        alert = wait_until(first_alert, 60, "the first alert with its clip",
                           until=lambda alert: alert.get("has_clip"), interval_s=1)
        r = client.get(f"/api/v1/alerts/{alert['id']}/clip", headers=world.admin)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(r.content)
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
             "stream=codec_name,width,height,duration,nb_read_frames", "-of", "json", str(clip)],
            capture_output=True, text=True, check=True)
        [stream] = json.loads(probe.stdout)["streams"]
        assert stream["width"] == 640 and int(stream["nb_read_frames"]) > 0
        # 3 s before + 2 s after, from the keyframe before (the simulator has 1 s GOPs).
        assert 4.0 <= float(stream["duration"]) <= 7.0, stream
