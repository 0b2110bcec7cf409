"""Findings 6 and 7 of the outside review, and signed-in devices: a refresh token is good
for exactly one refresh however many race for it, signing out ends the access token at
once, and a user (or an admin) sees and ends sessions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(c: TestClient, username: str, agent: str = "test") -> dict:
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD},
               headers={"User-Agent": agent})
    assert r.status_code == 200, r.text
    return r.json()


def test_of_racing_refreshes_with_one_token_exactly_one_succeeds(world: World) -> None:
    c = world.client
    tokens = sign_in(c, "officer.yn")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: c.post("/api/v1/auth/refresh", json={
            "refresh_token": tokens["refresh_token"]}), range(8)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [401] * 7, codes
    # The losers used a spent token: reuse, which ends the session, the winner's new
    # tokens included.
    [winner] = [r.json() for r in answers if r.status_code == 200]
    assert c.get("/api/v1/auth/me", headers=bearer(winner["access_token"])).status_code == 401
    assert c.post("/api/v1/auth/refresh", json={
        "refresh_token": winner["refresh_token"]}).status_code == 401
    audit = c.get("/api/v1/audit", headers=world.admin,
                  params={"action": "auth.token_reuse"}).json()["items"]
    assert audit and audit[0]["actor"] == "officer.yn"
    # Other devices of the same user are not touched.
    assert c.get("/api/v1/auth/me", headers=world.headers["officer"]).status_code == 200


def test_sign_out_ends_the_access_token_at_once_even_without_the_refresh_token(
        world: World) -> None:
    c = world.client
    tokens = sign_in(c, "operator.du")
    me = bearer(tokens["access_token"])
    assert c.get("/api/v1/auth/me", headers=me).status_code == 200
    assert c.post("/api/v1/auth/logout", headers=me).status_code == 204
    assert c.get("/api/v1/auth/me", headers=me).status_code == 401
    assert c.get("/api/v1/cameras", headers=me).status_code == 401
    assert c.post("/api/v1/auth/refresh", json={
        "refresh_token": tokens["refresh_token"]}).status_code == 401
    # The user's other session (another device) stays signed in.
    assert c.get("/api/v1/auth/me", headers=world.headers["operator"]).status_code == 200


def test_a_user_sees_their_devices_and_ends_one_or_all_others(world: World) -> None:
    c = world.client
    phone = sign_in(c, "officer.yn", "Mozilla/5.0 (Linux; Android 14) Chrome/131 Mobile")
    desk = sign_in(c, "officer.yn", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131")
    listed = c.get("/api/v1/auth/sessions", headers=bearer(desk["access_token"])).json()
    assert len(listed) == 3  # with the one World signed in
    mine = [s for s in listed if s["current"]]
    assert len(mine) == 1 and "X11" in mine[0]["user_agent"]
    assert mine[0]["address"] == "testclient"
    [phone_row] = [s for s in listed if "Android" in s["user_agent"]]
    r = c.delete(f"/api/v1/auth/sessions/{phone_row['id']}", headers=bearer(desk["access_token"]))
    assert r.status_code == 204
    assert c.get("/api/v1/auth/me", headers=bearer(phone["access_token"])).status_code == 401
    assert c.post("/api/v1/auth/refresh", json={
        "refresh_token": phone["refresh_token"]}).status_code == 401
    # Someone else's session, or one already ended: 404.
    admin_sessions = c.get("/api/v1/auth/sessions", headers=world.admin).json()
    assert c.delete(f"/api/v1/auth/sessions/{admin_sessions[0]['id']}",
                    headers=bearer(desk["access_token"])).status_code == 404
    assert c.delete(f"/api/v1/auth/sessions/{phone_row['id']}",
                    headers=bearer(desk["access_token"])).status_code == 404
    # "End all others" keeps this one.
    assert c.delete("/api/v1/auth/sessions", headers=bearer(desk["access_token"])
                    ).status_code == 204
    assert c.get("/api/v1/auth/me", headers=world.headers["officer"]).status_code == 401
    assert c.get("/api/v1/auth/me", headers=bearer(desk["access_token"])).status_code == 200
    assert len(c.get("/api/v1/auth/sessions", headers=bearer(desk["access_token"])).json()) == 1


def test_an_admin_ends_every_session_of_a_user(world: World) -> None:
    c = world.client
    other = sign_in(c, "operator.du")
    uid = world.ids["operator"]
    listed = c.get(f"/api/v1/users/{uid}/sessions", headers=world.admin)
    assert listed.status_code == 200 and len(listed.json()) == 2
    assert c.get(f"/api/v1/users/{uid}/sessions",
                 headers=world.headers["operator"]).status_code == 403
    assert c.delete(f"/api/v1/users/{uid}/sessions", headers=world.admin).status_code == 204
    for headers in (world.headers["operator"], bearer(other["access_token"])):
        assert c.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert c.get(f"/api/v1/users/{uid}/sessions", headers=world.admin).json() == []
    entry = c.get("/api/v1/audit", headers=world.admin,
                  params={"action": "auth.sessions_ended"}).json()["items"][0]
    assert entry["actor"] == "admin" and entry["detail"]["count"] == 2
    assert c.delete("/api/v1/users/999999/sessions", headers=world.admin).status_code == 404
