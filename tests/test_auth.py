"""Signing in, tokens, lockout, cookies with CSRF, and the first admin."""

import pytest
from fastapi.testclient import TestClient

from bench.server import finish_first_sign_in
from camera_center.app import create_app
from camera_center.auth.roles import Role
from tests.conftest import PASSWORD, World, add_user, login


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_tokens_that_open_the_api(world: World) -> None:
    r = world.client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "bearer"
    assert body["user"]["role"] == "admin" and body["expires_in"] == 15 * 60
    me = world.client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["username"] == "admin"


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World) -> None:
    c = world.client
    a = c.post("/api/v1/auth/login", json={"username": "admin", "password": "nope-nope-1"})
    b = c.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope-1"})
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"] == "Wrong username or password."


def test_requests_without_or_with_a_forged_token_are_refused(world: World) -> None:
    c = world.client
    assert c.get("/api/v1/cameras").status_code == 401
    r = c.get("/api/v1/cameras", headers=bearer("abc.def.ghi"))
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_account_locks_after_repeated_failures(world: World) -> None:
    c = world.client
    for _ in range(5):
        assert c.post("/api/v1/auth/login",
                      json={"username": "operator.du", "password": "wrong-pass-1"}
                      ).status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "operator.du", "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed sign-ins for this account" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # Other accounts are not affected.
    assert c.post("/api/v1/auth/login",
                  json={"username": "admin", "password": PASSWORD}).status_code == 200


def test_address_locks_after_failures_across_accounts(make_settings) -> None:
    settings = make_settings(auth={"address_lockout_threshold": 3, "lockout_threshold": 50})
    with TestClient(create_app(settings)) as c:
        add_user(c, "admin", Role.ADMIN)
        for name in ("a1", "a2", "a3"):
            c.post("/api/v1/auth/login", json={"username": name, "password": "wrong-pass-1"})
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429 and "from this address" in r.json()["detail"]


def test_failed_logins_are_audited(world: World) -> None:
    world.client.post("/api/v1/auth/login", json={"username": "admin", "password": "bad-pass-1"})
    r = world.client.get("/api/v1/audit", params={"action": "auth.login_failed"},
                         headers=world.admin)
    assert r.json()["items"][0]["actor"] == "admin"


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(world: World) -> None:
    c = world.client
    first = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    second = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    fresh = second.json()
    assert c.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    # The old refresh token was revoked by rotation; using it again looks like theft.
    again = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert c.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 401


def test_access_token_is_not_a_refresh_token(world: World) -> None:
    r = world.client.post("/api/v1/auth/refresh",
                          json={"refresh_token": world.admin["Authorization"][7:]})
    assert r.status_code == 401


def test_logout_revokes_the_refresh_token(world: World) -> None:
    c = world.client
    tokens = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    r = c.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]),
               json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    assert c.post("/api/v1/auth/refresh",
                  json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_disabling_a_user_ends_their_access_at_once(world: World) -> None:
    c = world.client
    officer = world.headers["officer"]
    assert c.get("/api/v1/cameras", headers=officer).status_code == 200
    c.patch(f"/api/v1/users/{world.ids['officer']}", headers=world.admin, json={"disabled": True})
    assert c.get("/api/v1/cameras", headers=officer).status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "officer.yn", "password": PASSWORD})
    assert r.status_code == 401


def test_changing_password_ends_older_sessions(world: World) -> None:
    c = world.client
    old = world.headers["operator"]
    r = c.post("/api/v1/auth/password", headers=old,
               json={"current_password": PASSWORD, "new_password": "Brand-new-pass-7"})
    assert r.status_code == 204
    assert c.get("/api/v1/auth/me", headers=old).status_code == 401
    assert login(c, "operator.du", "Brand-new-pass-7")


def test_password_change_needs_the_current_password(world: World) -> None:
    r = world.client.post("/api/v1/auth/password", headers=world.headers["operator"],
                          json={"current_password": "not-it-at-all", "new_password": "Whatever-9x"})
    assert r.status_code == 401


def test_cookie_session_needs_csrf_header_for_changes(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/auth/login",
               json={"username": "admin", "password": PASSWORD, "cookie": True})
    body = r.json()
    assert body["access_token"] is None and body["csrf_token"]
    assert "httponly" in r.headers["set-cookie"].lower()
    assert c.get("/api/v1/auth/me").status_code == 200  # reads work with the cookie alone
    area = {"id": "GT", "name": "Thị trấn Giang Tiên", "kind": "town", "parent_id": "PLG"}
    r = c.post("/api/v1/areas", json=area)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = c.post("/api/v1/areas", json=area, headers={"X-CSRF-Token": body["csrf_token"]})
    assert r.status_code == 201
    c.cookies.clear()


def test_no_user_exists_until_one_is_created(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": "admin"})
    assert r.status_code == 401


def test_bootstrap_admin_is_created_once(make_settings) -> None:
    settings = make_settings(auth={"bootstrap_admin": "chief:Very-strong-pass-1"})
    with TestClient(create_app(settings)) as c:
        finish_first_sign_in(c, "Chief-chose-this-one-9", "chief", "Very-strong-pass-1")
    # Started again with the variable still set: the chief's own password stays.
    with TestClient(create_app(settings)) as c:
        assert c.post("/api/v1/auth/login", json={
            "username": "chief", "password": "Very-strong-pass-1"}).status_code == 401
        r = c.get("/api/v1/users", headers=login(c, "chief", "Chief-chose-this-one-9"))
        assert [u["username"] for u in r.json()] == ["chief"]


def test_weak_bootstrap_password_stops_the_start(make_settings) -> None:
    settings = make_settings(auth={"bootstrap_admin": "chief:short"})
    with pytest.raises(ValueError, match="bootstrap_admin refused"), \
            TestClient(create_app(settings)):
        pass
