"""Recording through the server, against the real simulator: the index and timeline,
playback from any second, roles and areas, the audit of who watched, retention with
holds, and signed exports that verify (and fail once tampered with)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.recording.index import probe_segment
from camera_center.settings import Settings, load_settings
from camera_sim.process import SimProcess
from tests.conftest import World, call, services_of
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sim")

CAM = "cam025"
# The tests on one shared server run in one test worker.
SHARED = pytest.mark.xdist_group("recording-api")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _recording_center(settings: Settings, sim: SimProcess) -> Iterator[World]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = World(client)
        r = client.post("/api/v1/cameras", headers=world.admin, json={
            "id": CAM, "name": "Chợ Đu, cổng chính", "area_id": "DU",
            "main_url": sim.url(CAM, "main"), "sub_url": sim.url(CAM, "sub")})
        assert r.status_code == 201, r.text
        yield world


_RECORDING = {"ingest": {"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3,
                         "backoff_cap_s": 2},
              "recording": {"segment_s": 5, "min_free_gb": 0, "retention_every_s": 3600}}


@pytest.fixture
def center(make_settings: Callable[..., Settings], sim: SimProcess) -> Iterator[World]:
    """A server of its own, for tests that delete footage."""
    yield from _recording_center(make_settings(**_RECORDING), sim)


@pytest.fixture(scope="module")
def shared_center(tmp_path_factory: pytest.TempPathFactory, sim: SimProcess
                  ) -> Iterator[World]:
    """One recording server for the tests that only read footage and add to it: each
    would otherwise wait ~12 s for its own first two segments."""
    root = tmp_path_factory.mktemp("recording-api")
    settings = load_settings(None, data_dir=str(root / "data"),
                             database={"url": f"sqlite+aiosqlite:///{root / 'test.db'}"},
                             auth={"password_hash": {"time_cost": 1, "memory_kib": 256,
                                                     "parallelism": 1},
                                   "second_factor_roles": []},
                             **_RECORDING)
    yield from _recording_center(settings, sim)


def segments(world: World) -> list:
    index = services_of(world.client).recordings.index
    return [s for s in call(world.client, index.segments, CAM, 0.0, time.time() + 60)
            if s.closed]


def wait_segments(world: World, count: int) -> list:
    return wait_until(lambda: segments(world), 60, f"{count} closed segments",
                      until=lambda segs: len(segs) >= count, interval_s=0.5)


def timeline(world: World, start: float, end: float, role: str = "admin"):
    return world.client.get("/api/v1/recordings/timeline", headers=world.headers[role],
                            params={"camera": CAM, "start": iso(start), "end": iso(end)})


@SHARED
def test_the_timeline_shows_recorded_footage_gaps_and_recording_now(shared_center: World
                                                                    ) -> None:
    center = shared_center
    segs = wait_segments(center, 2)
    start = segs[0].start_ts - 30
    r = timeline(center, start, time.time() + 30)
    assert r.status_code == 200, r.text
    [cam] = r.json()["cameras"]
    assert cam["name"] == "Chợ Đu, cổng chính" and cam["recording_now"] is True
    assert len(cam["recorded"]) == 1, "one connection: one stretch"
    first = datetime.fromisoformat(cam["recorded"][0]["start"]).timestamp()
    assert first == pytest.approx(segs[0].start_ts, abs=0.01)
    last = datetime.fromisoformat(cam["recorded"][0]["end"]).timestamp()
    # The segment being written counts too, up to its last whole fragment as the reader
    # last said (not the clock): every second shown plays, however far behind live the
    # reader is. (Times in the answer are to the microsecond.)
    assert segs[1].end_ts - 1e-5 <= last <= time.time()
    tail = center.client.get(f"/api/v1/recordings/{CAM}/play", headers=center.admin,
                             params={"start": iso(last - 0.5), "end": iso(last)})
    assert tail.status_code == 200 and len(tail.content) > 1000, tail.text
    gap = cam["gaps"][0]
    assert datetime.fromisoformat(gap["start"]).timestamp() == pytest.approx(start, abs=0.01)
    # Officers of another area learn nothing of this camera.
    assert timeline(center, start, time.time(), "officer").status_code == 404
    assert timeline(center, start, time.time(), "operator").status_code == 200
    # Bad ranges are a clear 400.
    assert timeline(center, time.time(), start).status_code == 400
    assert timeline(center, 0, time.time()).status_code == 400  # more than 31 days


@SHARED
def test_playback_starts_at_the_keyframe_before_the_asked_second_and_is_audited(
        shared_center: World, tmp_path: Path) -> None:
    center = shared_center
    segs = wait_segments(center, 2)
    asked = segs[0].start_ts + 2.5
    r = center.client.get(f"/api/v1/recordings/{CAM}/play",
                          headers=center.headers["operator"],
                          params={"start": iso(asked), "end": iso(asked + 6)})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    first = datetime.fromisoformat(r.headers["x-recording-start"]).timestamp()
    assert asked - 1.1 < first <= asked, "the keyframe at or before the asked second"
    clip = tmp_path / "play.mp4"
    clip.write_bytes(r.content)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,nb_read_frames:format=duration", "-of", "json", str(clip)],
        capture_output=True, text=True, check=True).stdout)
    assert probe["streams"][0]["codec_name"] == "h264"
    duration = float(probe["format"]["duration"])
    assert asked + 6 - first - 0.2 < duration < asked + 6 - first + 0.2, \
        "crosses the segment boundary without a gap"
    audit = center.client.get("/api/v1/audit", headers=center.admin,
                              params={"action": "recording.played"}).json()
    entry = audit["items"][0]
    assert entry["actor"] == "operator.du" and entry["target_id"] == CAM
    assert entry["detail"]["start"].startswith(iso(asked)[:19])
    # Another area's officer: 404, as if there were no such camera.
    assert center.client.get(f"/api/v1/recordings/{CAM}/play", headers=center.headers[
        "officer"], params={"start": iso(asked)}).status_code == 404
    nothing = center.client.get(f"/api/v1/recordings/{CAM}/play", headers=center.admin,
                                params={"start": "2020-01-01T00:00:00+07:00"})
    assert nothing.status_code == 404 and "No footage" in nothing.json()["detail"]
    backwards = center.client.get(f"/api/v1/recordings/{CAM}/play", headers=center.admin,
                                  params={"start": iso(asked), "end": iso(asked - 5)})
    assert backwards.status_code == 400


@pytest.mark.slow  # ~20 s: three 5 s segments recorded first
def test_retention_takes_the_oldest_unheld_footage_first_and_never_held_footage(
        center: World) -> None:
    segs = wait_segments(center, 3)
    held, oldest_unheld, newer = segs[0], segs[1], segs[2]
    r = center.client.post("/api/v1/recordings/holds", headers=center.admin, json={
        "camera_id": CAM, "start": iso(held.start_ts + 1), "end": iso(held.start_ts + 2),
        "reason": "Vụ việc 12/2026: giữ lại"})
    assert r.status_code == 201, r.text
    services = services_of(center.client)
    cap = (held.bytes + newer.bytes) / 1e9  # room for two segments: one must go
    services.settings.recording.max_gb = cap
    plan = call(center.client, services.recordings.apply_retention)
    gone = [d.segment.id for d in plan.deletions]
    assert gone[0] == oldest_unheld.id and held.id not in gone
    assert plan.held_skipped >= 1
    remaining = {s.id for s in segments(center)}
    assert held.id in remaining and oldest_unheld.id not in remaining
    root = services.recordings.root
    assert (root / held.path).exists() and not (root / oldest_unheld.path).exists()
    # The deleted stretch is now a gap in the timeline.
    cam = timeline(center, held.start_ts - 1, newer.end_ts).json()["cameras"][0]
    gap_starts = [datetime.fromisoformat(g["start"]).timestamp() for g in cam["gaps"]]
    assert any(abs(t - held.end_ts) < 0.05 for t in gap_starts)
    # Released, the held segment goes the next time retention needs room.
    hold_id = r.json()["id"]
    assert center.client.delete(f"/api/v1/recordings/holds/{hold_id}",
                                headers=center.admin).status_code == 204
    services.settings.recording.max_gb = 1e-9
    call(center.client, services.recordings.apply_retention)
    assert held.id not in {s.id for s in segments(center)}


def verify(package: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camera_center", "exports", "verify",
                           str(package), *extra], capture_output=True, text=True, timeout=60)


def rewrite(package: Path, target: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            out.writestr(item, change(data) if item.filename == name else data)


@SHARED
def test_an_export_verifies_and_a_tampered_copy_does_not(shared_center: World,
                                                         tmp_path: Path) -> None:
    center = shared_center
    segs = wait_segments(center, 2)
    body = {"cameras": [CAM], "start": iso(segs[0].start_ts + 1),
            "end": iso(segs[1].end_ts - 1), "reason": "Trộm xe máy ở chợ Đu",
            "case_number": "VV-2026/118"}
    c = center.client
    assert c.post("/api/v1/exports", headers=center.headers["operator"],
                  json=body).status_code == 403, "operators watch; they do not hand out"
    assert c.post("/api/v1/exports", headers=center.headers["officer"],
                  json=body).status_code == 404, "another area's camera"
    too_long = {**body, "end": iso(segs[0].start_ts + 25 * 3600)}
    assert c.post("/api/v1/exports", headers=center.admin, json=too_long).status_code == 400
    empty = {**body, "start": "2020-01-01T00:00:00Z", "end": "2020-01-01T01:00:00Z"}
    r = c.post("/api/v1/exports", headers=center.admin, json=empty)
    assert r.status_code == 400 and "No footage" in r.json()["detail"]
    r = c.post("/api/v1/exports", headers=center.admin, json=body)
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]
    done = wait_until(lambda: c.get(f"/api/v1/exports/{export_id}", headers=center.admin
                                    ).json(), 60, "the export",
                      until=lambda e: e["state"] in ("done", "failed"), interval_s=0.3)
    assert done["state"] == "done", done
    assert done["progress"] == 1.0
    r = c.get(done["download"], headers=center.admin)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    package = tmp_path / "export.zip"
    package.write_bytes(r.content)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["case_number"] == "VV-2026/118" and manifest["exported_by"] == "admin"
    [entry] = manifest["files"]
    assert entry["camera_name"] == "Chợ Đu, cổng chính" and entry["area_name"] == "Thị trấn Đu"
    assert entry["codec"] == "h264" and len(entry["sha256"]) == 64
    assert manifest["requested"]["start"].startswith(body["start"][:19])

    key = c.get("/api/v1/exports/public-key")  # public: investigators have no account
    assert key.status_code == 200
    pem = tmp_path / "server.pem"
    pem.write_text(key.json()["pem"])
    ok = verify(package, "--public-key", str(pem))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified" in ok.stdout and key.json()["fingerprint"] in ok.stdout

    tampered = tmp_path / "tampered.zip"
    rewrite(package, tampered, entry["name"], lambda d: d[:5000] + bytes([d[5000] ^ 1])
            + d[5001:])
    bad = verify(tampered, "--public-key", str(pem))
    assert bad.returncode == 1 and f"{entry['name']}: SHA-256 differs" in bad.stdout
    forged = tmp_path / "forged.zip"
    rewrite(package, forged, "manifest.json",
            lambda d: d.replace(b"VV-2026/118", b"VV-2026/119"))
    bad = verify(forged, "--public-key", str(pem))
    assert bad.returncode == 1 and "manifest.json: the signature does not match" in bad.stdout

    # Held from retention while the export exists; audited; only creator and admins.
    holds = c.get("/api/v1/recordings/holds", headers=center.admin).json()
    assert any(h["export_id"] == export_id for h in holds)
    assert c.get(f"/api/v1/exports/{export_id}", headers=center.headers["officer"]
                 ).status_code == 404
    actions = {e["action"] for e in c.get("/api/v1/audit", headers=center.admin).json()["items"]}
    assert {"export.created", "export.downloaded"} <= actions
    assert c.delete(f"/api/v1/exports/{export_id}", headers=center.admin).status_code == 204
    assert not any(h["export_id"] == export_id for h in c.get(
        "/api/v1/recordings/holds", headers=center.admin).json())


@pytest.mark.slow  # ~40 s: a tmpfs filled, then emptied, in real time
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_recording_disk_raises_storage_low_and_recovers_once_footage_is_released(
        make_settings: Callable[..., Settings], sim: SimProcess, tmp_path: Path) -> None:
    disk = tmp_path / "recordings"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(disk)],
                   check=True)
    cam = "cam026"
    settings = make_settings(
        ingest={"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3},
        recording={"segment_s": 5, "min_free_gb": 0.0005, "retention_every_s": 1,
                   "path": str(disk)})
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            world = World(client)
            c = client
            now = time.time()
            assert c.post("/api/v1/cameras", headers=world.admin, json={
                "id": cam, "name": "Cam 26", "area_id": "DU",
                "main_url": sim.url(cam, "main"),
                "sub_url": sim.url(cam, "sub")}).status_code == 201
            # Everything this camera records is evidence: retention may not make room.
            assert c.post("/api/v1/recordings/holds", headers=world.admin, json={
                "camera_id": cam, "start": iso(now - 3600), "end": iso(now + 3600),
                "reason": "Giữ toàn bộ để thử đĩa đầy"}).status_code == 201

            def recording() -> dict:
                return c.get(f"/api/v1/cameras/{cam}/health",
                             headers=world.admin).json().get("recording") or {}

            wait_until(recording, 60, "recording paused for storage",
                       until=lambda r: r.get("reason") == "storage_low", interval_s=0.5)
            alerts = wait_until(lambda: c.get("/api/v1/alerts", headers=world.admin, params={
                "kind": "storage_low"}).json()["items"], 15, "a storage_low alert",
                until=bool, interval_s=0.5)
            assert alerts[0]["priority"] == "critical" and alerts[0]["camera_id"] == cam
            status = c.get("/api/v1/recordings/status", headers=world.admin).json()
            assert status["storage_low"] is True and status["cameras_failing"] == 1
            for f in disk.rglob("*.mp4"):  # nothing written was cut or corrupted
                assert probe_segment(f) is not None, f
            hold = c.get("/api/v1/recordings/holds", headers=world.admin).json()[0]
            assert c.delete(f"/api/v1/recordings/holds/{hold['id']}",
                            headers=world.admin).status_code == 204
            wait_until(recording, 30, "recording again once retention made room",
                       until=lambda r: r.get("state") == "recording", interval_s=0.5)
            wait_until(lambda: c.get("/api/v1/recordings/status", headers=world.admin
                                     ).json()["storage_low"], 15, "storage recovered",
                       until=lambda low: low is False, interval_s=0.5)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
