"""Rules per camera through the API: admins configure, bad rules are refused with reasons,
everyone else reads within their areas."""

from tests.conftest import World

ZONE = [[0.55, 0.55], [0.95, 0.55], [0.95, 0.95], [0.55, 0.95]]


def _camera(world: World, cam: str = "du-r-01", area: str = "DU") -> str:
    r = world.client.post("/api/v1/cameras", headers=world.admin, json={
        "id": cam, "name": f"Camera {cam}", "area_id": area,
        "main_url": "rtsp://192.0.2.1/main"})
    assert r.status_code == 201, r.text
    return cam


def test_admin_adds_changes_and_removes_a_rule(world: World) -> None:
    cam = _camera(world)
    r = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin, json={
        "kind": "intrusion", "name": "Cổng trước ban đêm", "zone": ZONE,
        "classes": ["person", "motorcycle"],
        "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "start": "22:00", "end": "05:00"}})
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["name"] == "Cổng trước ban đêm" and rule["classes"] == ["person", "motorcycle"]
    r = world.client.patch(f"/api/v1/rules/{rule['id']}", headers=world.admin,
                           json={"min_score": 0.7, "enabled": False})
    assert r.status_code == 200 and r.json()["min_score"] == 0.7 and not r.json()["enabled"]
    listed = world.client.get(f"/api/v1/cameras/{cam}/rules",
                              headers=world.headers["operator"]).json()
    assert [x["id"] for x in listed] == [rule["id"]]
    assert world.client.delete(f"/api/v1/rules/{rule['id']}",
                               headers=world.admin).status_code == 204
    assert world.client.get(f"/api/v1/rules/{rule['id']}", headers=world.admin).status_code == 404


def test_invalid_rules_are_refused_with_the_reason(world: World) -> None:
    cam = _camera(world)
    bad = [
        ({"kind": "intrusion", "name": "x"}, "needs a zone"),
        ({"kind": "intrusion", "name": "x", "zone": [[0.1, 0.1], [0.2, 0.2]]}, "at least 3"),
        ({"kind": "intrusion", "name": "x", "zone": [[0.1, 0.1], [1.5, 0.2], [0.3, 0.9]]},
         "less than or equal to 1"),
        ({"kind": "intrusion", "name": "x", "zone": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]},
         "no area"),
        ({"kind": "intrusion", "name": "x", "zone": ZONE, "classes": ["dragon"]},
         "unknown classes"),
        ({"kind": "line_crossing", "name": "x"}, "needs a line"),
        ({"kind": "line_crossing", "name": "x", "line": [[0.5, 0.5], [0.5, 1]],
          "direction": "sideways"}, "unknown direction"),
        ({"kind": "tamper", "name": "x", "schedule": {"start": "25:00"}}, "pattern"),
        ({"kind": "teleport", "name": "x"}, "kind"),
    ]
    for body, reason in bad:
        r = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin, json=body)
        assert r.status_code == 422, (body, r.text)
        assert reason in r.text, (reason, r.text)
    ok = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin,
                           json={"kind": "intrusion", "name": "x", "zone": ZONE}).json()
    r = world.client.patch(f"/api/v1/rules/{ok['id']}", headers=world.admin,
                           json={"zone": None})
    assert r.status_code == 422 and "needs a zone" in r.text


def test_rules_of_other_areas_are_invisible_and_only_admins_write(world: World) -> None:
    cam = _camera(world, "du-r-02", "DU")
    rule = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin,
                             json={"kind": "tamper", "name": "Che camera"}).json()
    # The Yên Ninh officer sees neither the camera's rules nor the rule itself.
    assert world.client.get(f"/api/v1/cameras/{cam}/rules",
                            headers=world.headers["officer"]).status_code == 404
    assert world.client.get(f"/api/v1/rules/{rule['id']}",
                            headers=world.headers["officer"]).status_code == 404
    assert world.client.patch(f"/api/v1/rules/{rule['id']}", headers=world.headers["operator"],
                              json={"name": "y"}).status_code == 403


def test_removing_a_camera_removes_its_rules(world: World) -> None:
    cam = _camera(world, "du-r-03")
    rule = world.client.post(f"/api/v1/cameras/{cam}/rules", headers=world.admin,
                             json={"kind": "offline", "name": "Mất kết nối"}).json()
    assert world.client.delete(f"/api/v1/cameras/{cam}", headers=world.admin).status_code == 204
    assert world.client.get(f"/api/v1/rules/{rule['id']}", headers=world.admin).status_code == 404
