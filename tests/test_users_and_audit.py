"""User administration and the audit trail."""

from tests.conftest import World, camera_body, login


def test_admin_creates_an_officer_scoped_to_an_area(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/users", headers=world.admin, json={
        "username": "officer.du", "full_name": "Nguyễn Văn An", "role": "officer",
        "password": "Officer-pass-88", "area_ids": ["DU"]})
    assert r.status_code == 201, r.text
    assert r.json()["area_ids"] == ["DU"] and r.json()["full_name"] == "Nguyễn Văn An"
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("du-001", area="DU"))
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("yn-001", area="YN"))
    officer = login(c, "officer.du", "Officer-pass-88")
    assert [x["id"] for x in c.get("/api/v1/cameras", headers=officer).json()["items"]] == [
        "du-001"]


def test_reassigning_areas_changes_what_a_user_sees(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body("du-001", area="DU"))
    officer = world.headers["officer"]
    assert c.get("/api/v1/cameras", headers=officer).json()["total"] == 0
    r = c.patch(f"/api/v1/users/{world.ids['officer']}", headers=world.admin,
                json={"area_ids": ["YN", "DU"]})
    assert sorted(r.json()["area_ids"]) == ["DU", "YN"]
    assert c.get("/api/v1/cameras", headers=officer).json()["total"] == 1


def test_unknown_area_for_a_user_is_refused(world: World) -> None:
    r = world.client.post("/api/v1/users", headers=world.admin, json={
        "username": "x.y", "role": "officer", "password": "Officer-pass-88", "area_ids": ["QQ"]})
    assert r.status_code == 422 and "QQ" in r.json()["detail"]


def test_duplicate_username_is_a_conflict(world: World) -> None:
    r = world.client.post("/api/v1/users", headers=world.admin, json={
        "username": "admin", "role": "officer", "password": "Officer-pass-88"})
    assert r.status_code == 409


def test_changes_are_audited_with_who_what_and_where(world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    c.patch("/api/v1/cameras/du-001", headers=world.admin, json={"name": "Chợ Đu"})
    c.delete("/api/v1/cameras/du-001", headers=world.admin)
    r = c.get("/api/v1/audit", params={"target_type": "camera"}, headers=world.admin)
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["camera.delete", "camera.update", "camera.create"]
    assert all(i["actor"] == "admin" and i["source_ip"] == "testclient" for i in items)
    assert items[1]["detail"] == {"changed": ["name"]}
    logins = c.get("/api/v1/audit", params={"action": "auth.login"},
                   headers=world.admin).json()["items"]
    assert {i["actor"] for i in logins} == {"admin", "operator.du", "officer.yn"}


def test_audit_pages_with_before_id(world: World) -> None:
    c = world.client
    first = c.get("/api/v1/audit", params={"limit": 2}, headers=world.admin).json()
    assert len(first["items"]) == 2 and first["next_before_id"]
    second = c.get("/api/v1/audit", params={"limit": 2, "before_id": first["next_before_id"]},
                   headers=world.admin).json()
    assert max(i["id"] for i in second["items"]) < min(i["id"] for i in first["items"])
