"""Finding 13 of the outside review: secrets in camera URLs' query strings are masked
wherever a URL is shown (API, CSV export) and kept when the masked URL comes back;
camera addresses and usernames are shown to admins only."""

from __future__ import annotations

import pytest

from camera_center.auth.roles import system_principal
from tests.conftest import World, call, camera_body, services_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

SNAP_SECRET = "Snap-Pass-31"
SNAPSHOT = f"http://127.0.0.10/cgi-bin/snap.cgi?user=admin&pwd={SNAP_SECRET}&chn=1"


def stored_snapshot(world: World) -> str:
    cam = call(world.client, services_of(world.client).cameras.get,
               system_principal(), "du-001")
    return cam.snapshot_url


def test_query_secrets_are_masked_and_addresses_are_for_admins(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/cameras", headers=world.admin, json=camera_body(
        "du-001", snapshot_url=SNAPSHOT, username="admin", password="Cam-Pass-1"))
    assert r.status_code == 201, r.text
    shown = c.get("/api/v1/cameras/du-001", headers=world.admin).json()
    assert shown["snapshot_url"] == SNAPSHOT.replace(SNAP_SECRET, "***")
    assert shown["username"] == "admin"
    for role in ("operator", "officer"):
        r = c.get("/api/v1/cameras", headers=world.headers[role])
        assert SNAP_SECRET not in r.text
        for cam in r.json()["items"]:
            assert (cam["main_url"], cam["sub_url"], cam["snapshot_url"], cam["onvif_url"],
                    cam["username"]) == (None, None, None, None, None)
    export = c.get("/api/v1/cameras/export", headers=world.admin).text
    assert SNAP_SECRET not in export and "pwd=***" in export

    # What was shown comes back: the stored secret stays.
    again = c.post("/api/v1/cameras/import", headers=world.admin,
                   files={"file": ("cameras.csv", export.encode(), "text/csv")})
    assert [x["status"] for x in again.json()["results"]] == ["unchanged"]
    r = c.patch("/api/v1/cameras/du-001", headers=world.admin, json={
        "snapshot_url": shown["snapshot_url"].replace("chn=1", "chn=2")})
    assert r.status_code == 200, r.text
    assert stored_snapshot(world) == SNAPSHOT.replace("chn=1", "chn=2")
    # ...but not to another host.
    r = c.patch("/api/v1/cameras/du-001", headers=world.admin, json={
        "snapshot_url": shown["snapshot_url"].replace("127.0.0.10", "203.0.113.9"),
        "password": "Cam-Pass-1"})
    assert r.status_code == 422 and "masked value" in r.text
    assert SNAP_SECRET in stored_snapshot(world)
