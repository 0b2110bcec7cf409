"""Admins run the servers of a multi-server center over HTTP: drain a worker before
maintenance and take it back, pin a camera to a worker and unpin it; each change is in
the audit log. On SQLite and on PostgreSQL."""

from typing import Any

import pytest

from tests.conftest import World, call, camera_body, services_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def beat(world: World, node_id: str, role: str = "worker") -> None:
    """A server that says it is alive, as its heartbeat would."""
    nodes = services_of(world.client).nodes
    call(world.client, lambda: nodes.heartbeat(
        node_id, role, f"http://{node_id}:8081", "0.1", 1.0, cameras=0, cpu_percent=12.5,
        load=0.2))


def audited(world: World, action: str) -> list[dict[str, Any]]:
    r = world.client.get("/api/v1/audit", params={"action": action}, headers=world.admin)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def listed(world: World) -> dict[str, dict[str, Any]]:
    r = world.client.get("/api/v1/cluster/nodes", headers=world.admin)
    assert r.status_code == 200, r.text
    return {n["node_id"]: n for n in r.json()["items"]}


def test_admin_drains_a_worker_and_takes_it_back(world: World) -> None:
    beat(world, "w1")
    r = world.client.post("/api/v1/cluster/nodes/w1/drain", json={"draining": True},
                          headers=world.admin)
    assert r.status_code == 200, r.text
    assert r.json()["node_id"] == "w1" and r.json()["draining"] is True
    assert r.json()["state"] == "draining"
    assert listed(world)["w1"]["state"] == "draining"
    r = world.client.post("/api/v1/cluster/nodes/w1/drain", json={"draining": False},
                          headers=world.admin)
    assert r.status_code == 200, r.text
    assert r.json()["draining"] is False and r.json()["state"] == "up"
    [drained] = audited(world, "node.drain")
    [undrained] = audited(world, "node.undrain")
    assert drained["target_type"] == undrained["target_type"] == "node"
    assert drained["target_id"] == "w1" and drained["actor"] == "admin"


def test_draining_an_unknown_server_is_404_with_the_reason(world: World) -> None:
    r = world.client.post("/api/v1/cluster/nodes/nope/drain", json={"draining": True},
                          headers=world.admin)
    assert r.status_code == 404
    assert "'nope' is not known" in r.json()["detail"]
    assert audited(world, "node.drain") == []


def test_an_api_server_is_not_drained_it_reads_no_cameras(world: World) -> None:
    beat(world, "api-1", role="api")
    r = world.client.post("/api/v1/cluster/nodes/api-1/drain", json={"draining": True},
                          headers=world.admin)
    assert r.status_code == 422
    assert "reads no cameras" in r.json()["detail"]
    assert listed(world)["api-1"]["draining"] is False


def test_the_drain_body_must_say_true_or_false(world: World) -> None:
    beat(world, "w1")
    r = world.client.post("/api/v1/cluster/nodes/w1/drain", json={"draining": True, "x": 1},
                          headers=world.admin)
    assert r.status_code == 422
    r = world.client.post("/api/v1/cluster/nodes/w1/drain", json={}, headers=world.admin)
    assert r.status_code == 422


def test_admin_pins_a_camera_to_a_worker_and_unpins_it(world: World) -> None:
    c = world.client
    assert c.post("/api/v1/cameras", headers=world.admin, json=camera_body()).status_code == 201
    beat(world, "w1")
    beat(world, "w2")
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": "w1"}, headers=world.admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"camera_id": "du-001", "node_id": "w1"}
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": "w2"}, headers=world.admin)
    assert r.status_code == 200, r.text          # pinning again moves the pin
    r = c.get("/api/v1/cluster/pins", headers=world.admin)
    assert r.json() == {"items": [{"camera_id": "du-001", "node_id": "w2"}]}
    # The assignment reads the pin.
    [placed] = call(c, services_of(c).pins.placement)
    assert placed.pinned_to == "w2"
    assert c.delete("/api/v1/cluster/pins/du-001", headers=world.admin).status_code == 204
    assert c.get("/api/v1/cluster/pins", headers=world.admin).json() == {"items": []}
    r = c.delete("/api/v1/cluster/pins/du-001", headers=world.admin)
    assert r.status_code == 404 and "not pinned" in r.json()["detail"]
    assert [e["detail"]["node_id"] for e in audited(world, "camera.pin")] == ["w2", "w1"]
    [unpinned] = audited(world, "camera.unpin")
    assert unpinned["target_id"] == "du-001" and unpinned["detail"] == {"node_id": "w2"}


def test_a_deleted_camera_loses_its_pin_and_comes_back_unpinned(world: World) -> None:
    c = world.client
    assert c.post("/api/v1/cameras", headers=world.admin, json=camera_body()).status_code == 201
    beat(world, "w1")
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": "w1"}, headers=world.admin)
    assert r.status_code == 200, r.text
    assert c.delete("/api/v1/cameras/du-001", headers=world.admin).status_code == 204
    assert c.get("/api/v1/cluster/pins", headers=world.admin).json() == {"items": []}
    # Registered again under the same id, it follows the ordinary plan.
    assert c.post("/api/v1/cameras", headers=world.admin, json=camera_body()).status_code == 201
    [placed] = call(c, services_of(c).pins.placement)
    assert placed.camera_id == "du-001" and placed.pinned_to is None


def test_the_server_itself_takes_pins_in_single_server_mode(world: World) -> None:
    """One server (role all) reads cameras: a camera may be pinned to it."""
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    this = c.get("/api/v1/cluster/nodes", headers=world.admin).json()["this_node"]
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": this}, headers=world.admin)
    assert r.status_code == 200, r.text


def test_pinning_a_camera_that_does_not_exist_is_404(world: World) -> None:
    beat(world, "w1")
    r = world.client.put("/api/v1/cluster/pins/zz-404", json={"node_id": "w1"},
                         headers=world.admin)
    assert r.status_code == 404
    assert "'zz-404' does not exist" in r.json()["detail"]
    assert world.client.get("/api/v1/cluster/pins", headers=world.admin).json()["items"] == []


def test_pinning_to_an_unknown_server_or_an_api_server_is_422_with_the_reason(
        world: World) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    beat(world, "api-1", role="api")
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": "nope"}, headers=world.admin)
    assert r.status_code == 422 and "'nope' is not known" in r.json()["detail"]
    r = c.put("/api/v1/cluster/pins/du-001", json={"node_id": "api-1"}, headers=world.admin)
    assert r.status_code == 422 and "reads no cameras" in r.json()["detail"]
    assert c.get("/api/v1/cluster/pins", headers=world.admin).json()["items"] == []
    assert audited(world, "camera.pin") == []


@pytest.mark.parametrize("role", ["operator", "officer"])
def test_only_admins_drain_servers_and_pin_cameras(world: World, role: str) -> None:
    c = world.client
    c.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    beat(world, "w1")
    c.put("/api/v1/cluster/pins/du-001", json={"node_id": "w1"}, headers=world.admin)
    headers = world.headers[role]
    assert c.post("/api/v1/cluster/nodes/w1/drain", json={"draining": True},
                  headers=headers).status_code == 403
    assert c.get("/api/v1/cluster/pins", headers=headers).status_code == 403
    assert c.put("/api/v1/cluster/pins/du-001", json={"node_id": "w1"},
                 headers=headers).status_code == 403
    assert c.delete("/api/v1/cluster/pins/du-001", headers=headers).status_code == 403
    assert listed(world)["w1"]["draining"] is False
    assert c.get("/api/v1/cluster/pins", headers=world.admin).json()["items"] == [
        {"camera_id": "du-001", "node_id": "w1"}]
