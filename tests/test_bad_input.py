"""Bad requests get a 4xx problem body that says what to fix; never a 500 or a traceback."""

import pytest

from tests.conftest import World, camera_body


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"] and body["title"]
    assert "Traceback" not in r.text
    return body


def test_malformed_json(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers={**world.admin,
                                                      "content-type": "application/json"},
                          content=b'{"id": "du-1", ')
    assert problem(r, 400)["title"] == "Malformed JSON"


def test_wrong_types_name_the_field(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(lat="north", enabled="maybe"))
    fields = {e["field"] for e in problem(r, 422)["errors"]}
    assert {"lat", "enabled"} <= fields


def test_unknown_fields_are_refused(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(pasword="typo"))
    assert problem(r, 422)["errors"] == [{"field": "pasword", "message": "unknown field"}]


@pytest.mark.parametrize(("field", "url", "wanted"), [
    ("main_url", "http://127.0.0.1/stream", "rtsp:// or rtsps://"),
    ("main_url", "file:///etc/passwd", "rtsp:// or rtsps://"),
    ("sub_url", "rtsp:///no-host", "no host"),
    ("onvif_url", "rtsp://127.0.0.1/onvif", "http:// or https://"),
    ("snapshot_url", "javascript:alert(1)", "http:// or https://"),
    ("main_url", "rtsp://127.0.0.1:99999/x", "valid URL"),
])
def test_bad_url_schemes_are_explained(world: World, field: str, url: str, wanted: str) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(**{field: url}))
    body = problem(r, 422)
    assert body["errors"][0]["field"] == field and wanted in body["errors"][0]["message"]


def test_error_never_echoes_a_rejected_url_with_its_password(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(main_url="http://admin:Leak-me-not@127.0.0.1/x"))
    problem(r, 422)
    assert "Leak-me-not" not in r.text


def test_oversized_body_is_413(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(address="x" * 2_000_000))
    assert "larger than" in problem(r, 413)["detail"]


def test_oversized_body_without_length_header_is_413(world: World) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = world.client.post("/api/v1/cameras", headers={**world.admin,
                                                      "content-type": "application/json"},
                          content=chunks())
    problem(r, 413)


def test_bad_identifiers_in_paths_are_4xx(world: World) -> None:
    c = world.client
    problem(c.get("/api/v1/cameras/BAD%20ID", headers=world.admin), 422)
    problem(c.get("/api/v1/users/99999999999999999999", headers=world.admin), 422)
    problem(c.get("/api/v1/nothing-here", headers=world.admin), 404)
    problem(c.put("/api/v1/cameras", headers=world.admin), 405)


def test_polygon_masks_are_validated(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin, json=camera_body(
        detection={"masks": [[[0.1, 0.1], [1.5, 0.2], [0.3, 0.9]]]}))
    assert "detection.masks" in problem(r, 422)["errors"][0]["field"]
    r = world.client.post("/api/v1/cameras", headers=world.admin, json=camera_body(
        detection={"masks": [[[0.1, 0.1], [0.2, 0.2]]]}))
    problem(r, 422)


def test_password_without_username_is_refused(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body(password="lonely-Pass-1"))
    assert "username" in problem(r, 422)["detail"]


def test_area_cycles_are_refused(world: World) -> None:
    r = world.client.patch("/api/v1/areas/TN", headers=world.admin, json={"parent_id": "YN"})
    assert "own ancestor" in problem(r, 422)["detail"]
    r = world.client.patch("/api/v1/areas/TN", headers=world.admin, json={"parent_id": "TN"})
    problem(r, 422)


def test_area_with_cameras_cannot_be_deleted(world: World) -> None:
    world.client.post("/api/v1/cameras", headers=world.admin, json=camera_body(area="DU"))
    r = world.client.delete("/api/v1/areas/DU", headers=world.admin)
    assert "1 camera" in problem(r, 409)["detail"]
    r = world.client.delete("/api/v1/areas/PLG", headers=world.admin)
    assert "sub-area" in problem(r, 409)["detail"]


def test_weak_user_password_is_refused(world: World) -> None:
    r = world.client.post("/api/v1/users", headers=world.admin,
                          json={"username": "new.user", "role": "officer", "password": "short"})
    assert problem(r, 422)["errors"][0]["field"] == "password"


def test_last_admin_cannot_be_demoted_or_deleted(world: World) -> None:
    c = world.client
    admin_id = world.ids["admin"]
    problem(c.patch(f"/api/v1/users/{admin_id}", headers=world.admin,
                    json={"role": "operator"}), 409)
    problem(c.delete(f"/api/v1/users/{admin_id}", headers=world.admin), 409)


def test_audit_time_filter_needs_a_time_zone(world: World) -> None:
    r = world.client.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00"},
                         headers=world.admin)
    assert "time zone" in problem(r, 422)["detail"]
