"""Finding 4 of the outside review: a stored camera password never follows a URL to
another host. Moving any of a camera's addresses to another host or port needs the
password in the same change (API or CSV); a new path on the same host keeps it."""

from __future__ import annotations

import pytest

from tests.conftest import World, call, camera_body, services_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

SECRET = "Cam-Pass-7781"


def source(world: World, cam: str):
    return call(world.client, services_of(world.client).cameras.stream_source, cam)


def test_moving_a_camera_to_another_host_needs_its_password_again(world: World) -> None:
    c = world.client
    assert c.post("/api/v1/cameras", headers=world.admin, json=camera_body(
        "du-001", username="admin", password=SECRET)).status_code == 201
    patch = lambda body: c.patch("/api/v1/cameras/du-001", headers=world.admin, json=body)  # noqa: E731
    for moved in ({"main_url": "rtsp://203.0.113.9:554/du-001/main"},
                  {"main_url": "rtsp://127.0.0.10:8554/du-001/main"},  # another port
                  {"snapshot_url": "http://203.0.113.9/snap.jpg"}):
        r = patch(moved)
        assert r.status_code == 422, (moved, r.text)
        assert "only sent to the hosts it was given for" in r.json()["detail"]
        assert SECRET not in r.text
    assert source(world, "du-001").main_url == f"rtsp://admin:{SECRET}@127.0.0.10:554/du-001/main"
    # The same host with a new path (or the default port written out) keeps it.
    assert patch({"main_url": "rtsp://127.0.0.10:554/du-001/h264"}).status_code == 200
    assert SECRET in source(world, "du-001").main_url
    # With the password in the same change, the move is made.
    r = patch({"main_url": "rtsp://203.0.113.9/du-001/main", "password": "New-Pass-22"})
    assert r.status_code == 200, r.text
    assert source(world, "du-001").main_url == "rtsp://admin:New-Pass-22@203.0.113.9/du-001/main"
    # Or dropped on purpose.
    r = patch({"main_url": "rtsp://198.51.100.4/du-001/main", "password": None})
    assert r.status_code == 200 and r.json()["has_password"] is False


def test_a_csv_row_that_moves_a_camera_without_its_password_is_refused(world: World) -> None:
    c = world.client
    for cam in ("du-001", "du-002"):
        assert c.post("/api/v1/cameras", headers=world.admin, json=camera_body(
            cam, username="admin", password=SECRET)).status_code == 201
    export = c.get("/api/v1/cameras/export", headers=world.admin).text
    moved = export.replace("127.0.0.10:554/du-001", "203.0.113.9:554/du-001").replace(
        "Camera du-002", "Camera du-002 (renamed)")
    r = c.post("/api/v1/cameras/import", headers=world.admin,
               files={"file": ("cameras.csv", moved.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    rows = {x["id"]: x for x in r.json()["results"]}
    assert rows["du-001"]["status"] == "error"
    assert "give the password in this row" in rows["du-001"]["errors"][0]
    assert rows["du-002"]["status"] == "updated", "the other rows still apply"
    assert "127.0.0.10" in source(world, "du-001").main_url
