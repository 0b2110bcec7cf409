"""Camera registry over HTTP, on SQLite and on PostgreSQL."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, call, camera_body, services_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def test_admin_registers_a_camera_and_reads_it_back(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/cameras", headers=world.admin,
               json=camera_body(tags=["chợ", "ql3"], lat=21.74, lon=105.72,
                                address="Chợ Đu, Thị trấn Đu"))
    assert r.status_code == 201, r.text
    r = c.get("/api/v1/cameras/du-001", headers=world.admin)
    assert r.status_code == 200
    cam = r.json()
    assert cam["name"] == "Camera du-001"
    assert cam["tags"] == ["chợ", "ql3"]
    assert cam["address"] == "Chợ Đu, Thị trấn Đu"
    assert cam["detection"]["fps"] == 1.0
    assert cam["created_at"].endswith("Z") or cam["created_at"].endswith("+00:00")


def test_credentials_in_the_url_are_stored_apart_and_masked(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/cameras", headers=world.admin,
               json=camera_body(main_url="rtsp://admin:Kh0ng-ai-biet@127.0.0.7:554/live"))
    cam = r.json()
    assert cam["main_url"] == "rtsp://admin:***@127.0.0.7:554/live"
    assert cam["sub_url"] == "rtsp://admin:***@127.0.0.10:554/du-001/sub"
    assert cam["username"] == "admin" and cam["has_password"] is True
    source = call(c, services_of(c).cameras.stream_source, "du-001")
    assert source.main_url == "rtsp://admin:Kh0ng-ai-biet@127.0.0.7:554/live"


def test_patch_changes_only_the_fields_sent(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body(password="first-Pass-1",
                                                                     username="viewer"))
    r = c.patch("/api/v1/cameras/du-001", headers=world.admin,
                json={"enabled": False, "detection": {"fps": 5}})
    assert r.status_code == 200, r.text
    cam = r.json()
    assert cam["enabled"] is False and cam["detection"]["fps"] == 5
    assert cam["has_password"] is True and cam["name"] == "Camera du-001"
    r = c.patch("/api/v1/cameras/du-001", headers=world.admin, json={"password": ""})
    assert r.json()["has_password"] is False


def test_registry_changes_are_announced_to_subscribers(world: World) -> None:
    c = world.client
    sub = services_of(c).bus.subscribe("camera.")
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    c.patch("/api/v1/cameras/du-001", headers=world.admin, json={"enabled": False})
    c.delete("/api/v1/cameras/du-001", headers=world.admin)
    events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert [(e.topic, e.id) for e in events] == [
        ("camera.added", "du-001"), ("camera.updated", "du-001"), ("camera.removed", "du-001")]
    assert events[1].changes == ("enabled",)


def test_duplicate_id_and_name_are_conflicts(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    r = c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = c.post("/api/v1/cameras", headers=world.admin,
               json=camera_body("du-002", name="Camera du-001"))
    assert r.status_code == 409 and "du-001" in r.json()["detail"]


def test_unknown_area_is_refused_with_the_field(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(area="XX"))
    assert r.status_code == 422
    body = r.json()
    assert body["errors"] == [{"field": "area_id", "message": "unknown area"}]


def test_area_filter_includes_sub_areas_and_search(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("yn-001", area="YN"))
    c.post("/api/v1/cameras", headers=world.admin,
           json=camera_body("yn-cho-01", area="YN-CHO", name="Cổng chợ Yên Ninh"))
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("du-001", area="DU"))
    r = c.get("/api/v1/cameras", params={"area_id": "YN"}, headers=world.admin)
    assert [x["id"] for x in r.json()["items"]] == ["yn-001", "yn-cho-01"]
    r = c.get("/api/v1/cameras", params={"q": "chợ"}, headers=world.admin)
    assert [x["id"] for x in r.json()["items"]] == ["yn-cho-01"]
    r = c.get("/api/v1/cameras", params={"limit": 1, "offset": 1}, headers=world.admin)
    assert r.json()["total"] == 3 and [x["id"] for x in r.json()["items"]] == ["yn-001"]


def test_officer_sees_only_cameras_of_their_areas(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("du-001", area="DU"))
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("yn-cho-01", area="YN-CHO"))
    officer = world.headers["officer"]  # Xã Yên Ninh, which contains the market site
    r = c.get("/api/v1/cameras", headers=officer)
    assert [x["id"] for x in r.json()["items"]] == ["yn-cho-01"]
    assert r.json()["total"] == 1
    # Thị trấn Đu's camera does not exist as far as this officer can tell.
    r = c.get("/api/v1/cameras/du-001", headers=officer)
    assert r.status_code == 404
    missing = c.get("/api/v1/cameras/zz-999", headers=officer).json()["detail"]
    assert r.json()["detail"] == missing.replace("zz-999", "du-001")
    r = c.get("/api/v1/cameras", params={"area_id": "DU"}, headers=officer)
    assert r.json()["items"] == []


def test_deleting_a_camera_removes_it(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    assert c.delete("/api/v1/cameras/du-001", headers=world.admin).status_code == 204
    assert c.get("/api/v1/cameras/du-001", headers=world.admin).status_code == 404
    assert c.delete("/api/v1/cameras/du-001", headers=world.admin).status_code == 404


def test_data_survives_a_restart(world: World, settings) -> None:
    from camera_center.app import create_app

    world.client.post("/api/v1/cameras", headers=world.admin,
                      json=camera_body(username="u", password="x-1"))
    with TestClient(create_app(settings)) as again:
        r = again.post("/api/v1/auth/login", json={"username": "admin",
                                                    "password": "Correct-horse-42"})
        token = r.json()["access_token"]
        cam = again.get("/api/v1/cameras/du-001",
                        headers={"Authorization": f"Bearer {token}"}).json()
        assert cam["has_password"] is True
        source = call(again, services_of(again).cameras.stream_source, "du-001")
        assert ":x-1@" in source.main_url
