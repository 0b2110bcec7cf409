"""Ingest driven by the registry, seen through the API, against the real simulator."""

from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from tests.conftest import World, services_of
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sim")


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Iterator[World]:
    settings = make_settings(ingest={"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3,
                                     "backoff_cap_s": 2, "offline_grace_s": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield World(client)


def add_camera(world: World, sim: SimProcess, cam: str, area: str = "DU", **extra) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin, json={
        "id": cam, "name": f"Sim {cam}", "area_id": area,
        "main_url": sim.url(cam, "main"), "sub_url": sim.url(cam, "sub"), **extra})
    assert r.status_code == 201, r.text


def health(world: World, cam: str, role: str = "admin") -> dict:
    return world.client.get(f"/api/v1/cameras/{cam}/health", headers=world.headers[role]).json()


def wait_state(world: World, cam: str, wanted: str, timeout_s: float = 20) -> dict:
    """The camera's health once its state is *wanted*."""
    return wait_until(lambda: health(world, cam), timeout_s, f"{cam} {wanted}",
                      until=lambda h: h["state"] == wanted, interval_s=0.2)


def test_registered_camera_streams_and_serves_a_snapshot(live: World, sim: SimProcess) -> None:
    add_camera(live, sim, "cam021")
    h = wait_state(live, "cam021", "online")
    assert h["codec"] == "h264" and h["width"] == 640
    r = wait_until(lambda: live.client.get("/api/v1/cameras/cam021/snapshot.jpg",
                                           headers=live.admin), 10, "a snapshot of cam021",
                   until=lambda r: r.status_code == 200, interval_s=0.2)
    assert r.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (180, 320, 3)
    summary = live.client.get("/api/v1/fleet/health", headers=live.admin).json()
    assert summary["states"] == {"online": 1} and summary["by_area"] == {"DU": {"online": 1}}


def test_health_is_scoped_to_the_officers_areas(live: World, sim: SimProcess) -> None:
    add_camera(live, sim, "cam022", area="DU")
    assert live.client.get("/api/v1/cameras/cam022/health",
                           headers=live.headers["officer"]).status_code == 404
    assert live.client.get("/api/v1/cameras/cam022/snapshot.jpg",
                           headers=live.headers["officer"]).status_code == 404
    assert live.client.get("/api/v1/fleet/health",
                           headers=live.headers["officer"]).json()["cameras"] == 0


def test_disable_enable_and_delete_take_effect_without_restart(live: World, sim: SimProcess
                                                               ) -> None:
    add_camera(live, sim, "cam023")
    wait_state(live, "cam023", "online")
    live.client.patch("/api/v1/cameras/cam023", headers=live.admin, json={"enabled": False})
    wait_state(live, "cam023", "disabled", 5)
    live.client.patch("/api/v1/cameras/cam023", headers=live.admin, json={"enabled": True})
    wait_state(live, "cam023", "online")
    fleet = services_of(live.client).fleet
    live.client.delete("/api/v1/cameras/cam023", headers=live.admin)
    wait_until(lambda: "cam023" not in fleet.supervisor.camera_ids(), 5,
               "cam023 gone from ingest", interval_s=0.1)


def test_changing_the_stream_address_reconnects(live: World, sim: SimProcess) -> None:
    add_camera(live, sim, "cam024")
    wait_state(live, "cam024", "online")
    live.client.patch("/api/v1/cameras/cam024", headers=live.admin,
                      json={"sub_url": sim.url("no-such-camera")})
    h = wait_state(live, "cam024", "offline")
    assert "404" in h["last_error"]


@pytest.mark.slow  # over 10 s: run by make test-slow and CI
def test_long_outage_raises_camera_offline_then_online(live: World, sim: SimProcess) -> None:
    bus = services_of(live.client).bus
    events = bus.subscribe("camera.o")
    add_camera(live, sim, "cam014")
    wait_state(live, "cam014", "online")
    sim.fault("cam014", "stop", seconds=8)
    seen: list[tuple[str, str]] = []

    def drained() -> list[tuple[str, str]]:
        while not events.queue.empty():
            e = events.queue.get_nowait()
            seen.append((e.topic, e.id))
        return seen

    wait_until(drained, 25, "camera.online for cam014 after its outage",
               until=lambda s: ("camera.online", "cam014") in s, interval_s=0.2)
    assert seen[:2] == [("camera.offline", "cam014"), ("camera.online", "cam014")]


def test_cameras_added_one_by_one_while_streaming(live: World, sim: SimProcess) -> None:
    cams = ["cam013", "cam015", "cam016", "cam017", "cam018", "cam019", "cam021", "cam022"]
    for i, cam in enumerate(cams):
        add_camera(live, sim, cam)
        if i == 2:
            wait_state(live, cams[0], "online")
    for cam in cams:
        wait_state(live, cam, "online")
    summary = live.client.get("/api/v1/fleet/health", headers=live.admin).json()
    assert summary["states"] == {"online": len(cams)}
