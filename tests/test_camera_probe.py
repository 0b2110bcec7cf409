"""Test connection (admin page): a snapshot and the codec, or the error in words."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME
from camera_sim.process import SimProcess, free_port
from tests.conftest import World

WRONG = "Wrong-Secret-987"


def _decoded(result: dict) -> np.ndarray:
    data = base64.b64decode(result["snapshot_jpeg_base64"])
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the snapshot is not a JPEG"
    return image


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung camera)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_working_camera_gives_a_snapshot_and_its_codec(client: TestClient, world: World,
                                                       sim: SimProcess) -> None:
    r = client.post("/api/v1/cameras/test", headers=world.admin,
                    json={"url": sim.url("cam004", "main")})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["ok"] is True and result["error"] is None
    assert result["codec"] == "h264"
    assert result["width"] >= 320 and result["height"] >= 180
    image = _decoded(result)
    assert image.shape[1] == 640 and image.std() > 1  # a picture, not a blank frame


def test_h265_camera_reports_its_codec(client: TestClient, world: World,
                                       sim: SimProcess) -> None:
    r = client.post("/api/v1/cameras/test", headers=world.admin,
                    json={"url": sim.url("cam002", "sub")})
    assert r.json()["ok"] is True and r.json()["codec"] == "hevc"


def test_registered_camera_is_tested_with_its_stored_credentials(
        client: TestClient, world: World, sim: SimProcess) -> None:
    client.post("/api/v1/cameras", headers=world.admin, json={
        "id": "probe-auth", "name": "Probe auth", "area_id": "DU",
        "main_url": sim.url("cam003", "main"), "username": SIM_USERNAME,
        "password": SIM_PASSWORD}).raise_for_status()
    r = client.post("/api/v1/cameras/probe-auth/test", headers=world.admin)
    assert r.status_code == 200
    assert r.json()["ok"] is True, r.json()
    assert SIM_PASSWORD not in r.text
    assert r.json()["url"].startswith(f"rtsp://{SIM_USERNAME}:***@")
    # The create form may leave the password blank: the stored one fills in.
    r = client.post("/api/v1/cameras/test", headers=world.admin, json={
        "url": sim.url("cam003", "sub"), "camera_id": "probe-auth"})
    assert r.json()["ok"] is True, r.json()


def test_stored_password_is_not_sent_to_another_host(client: TestClient, world: World,
                                                     sim: SimProcess) -> None:
    client.post("/api/v1/cameras", headers=world.admin, json={
        "id": "probe-host", "name": "Probe host", "area_id": "DU",
        "main_url": sim.url("cam003", "main"), "username": SIM_USERNAME,
        "password": SIM_PASSWORD}).raise_for_status()
    elsewhere = sim.url("cam003", "main").replace("127.0.0.1", "localhost")
    r = client.post("/api/v1/cameras/test", headers=world.admin,
                    json={"url": elsewhere, "camera_id": "probe-host"})
    assert r.json()["ok"] is False and r.json()["reason"] == "auth_failed"


def test_wrong_password_says_authentication_failed_without_echoing_it(
        client: TestClient, world: World, sim: SimProcess,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    r = client.post("/api/v1/cameras/test", headers=world.admin, json={
        "url": sim.url("cam003", "main"), "username": SIM_USERNAME, "password": WRONG})
    assert r.status_code == 200
    result = r.json()
    assert result["ok"] is False and result["reason"] == "auth_failed"
    assert result["error"].startswith("authentication failed")
    assert WRONG not in r.text and result["snapshot_jpeg_base64"] is None
    # Typed into the URL itself, it is masked the same way.
    url = sim.url("cam003", "main", credentials=f"{SIM_USERNAME}:{WRONG}")
    r = client.post("/api/v1/cameras/test", headers=world.admin, json={"url": url})
    assert r.json()["reason"] == "auth_failed" and WRONG not in r.text
    audit = client.get("/api/v1/audit", headers=world.admin, params={"action": "camera.test"})
    assert WRONG not in audit.text and audit.json()["items"]
    out, err = capfd.readouterr()
    assert WRONG not in out + err + caplog.text  # nor in the server's logs (or FFmpeg's)


def test_closed_port_is_unreachable_at_once(client: TestClient, world: World) -> None:
    started = time.monotonic()
    r = client.post("/api/v1/cameras/test", headers=world.admin,
                    json={"url": f"rtsp://127.0.0.1:{free_port()}/x", "timeout_s": 3})
    assert r.json()["ok"] is False and r.json()["reason"] == "unreachable"
    assert r.json()["error"].startswith("unreachable")
    assert time.monotonic() - started < 3


def test_silent_camera_times_out_within_the_timeout(client: TestClient, world: World,
                                                    silent_port: int) -> None:
    started = time.monotonic()
    r = client.post("/api/v1/cameras/test", headers=world.admin,
                    json={"url": f"rtsp://127.0.0.1:{silent_port}/x", "timeout_s": 2})
    elapsed = time.monotonic() - started
    assert r.json()["ok"] is False and r.json()["reason"] == "timeout", r.json()
    assert "timed out" in r.json()["error"]
    assert elapsed < 2 + 2.5, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("role", ["operator", "officer", "anonymous"])
def test_only_admins_may_test_a_connection(client: TestClient, world: World, role: str) -> None:
    r = client.post("/api/v1/cameras/test", headers=world.headers[role],
                    json={"url": "rtsp://127.0.0.1:1/x"})
    assert r.status_code == (401 if role == "anonymous" else 403)
    r = client.post("/api/v1/cameras/cam001/test", headers=world.headers[role])
    assert r.status_code == (401 if role == "anonymous" else 403)


@pytest.mark.parametrize("body", [{"url": "http://127.0.0.1/x"}, {"url": "rtsp://"},
                                  {"url": "rtsp://h/x", "timeout_s": 0},
                                  {"url": "rtsp://h/x", "password": "p"}, {}])
def test_malformed_request_is_refused_with_a_reason(client: TestClient, world: World,
                                                    body: dict) -> None:
    r = client.post("/api/v1/cameras/test", headers=world.admin, json=body)
    assert r.status_code == 422 and r.json()["detail"]


def test_unknown_camera_is_not_found(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/cameras/nope-404/test", headers=world.admin)
    assert r.status_code == 404
