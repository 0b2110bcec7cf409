"""The bootstrap admin's password passed through the environment (process tables,
container inspection, shell history): the first sign-in can do nothing but change it.
Admins can ask the same of any user ("must change password at next sign-in")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.auth.roles import Role
from camera_center.errors import ACCOUNT_SETUP_PROBLEM
from tests.conftest import PASSWORD, add_user, login, seed_areas

API = "/api/v1"
BOOT = "Bootstrap-only-2026"


@pytest.fixture
def client(make_settings) -> Iterator[TestClient]:
    settings = make_settings(auth={"bootstrap_admin": f"chief:{BOOT}"})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_the_bootstrap_password_only_opens_its_own_change(client: TestClient) -> None:
    c = client
    r = c.post(f"{API}/auth/login", json={"username": "chief", "password": BOOT})
    assert r.status_code == 200 and r.json()["restriction"] == "password_change"
    assert r.json()["user"]["must_change_password"] is True
    boot = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for method, path in (("GET", "/cameras"), ("POST", "/areas"), ("GET", "/users"),
                         ("POST", "/auth/second-factor/setup"), ("GET", "/auth/sessions")):
        refused = c.request(method, API + path, headers=boot, json={})
        assert refused.status_code == 403, (path, refused.text)
        assert "initial password" in refused.json()["detail"]
    assert c.get(f"{API}/users", headers=boot).json()["type"] == ACCOUNT_SETUP_PROBLEM
    assert c.get(f"{API}/auth/me", headers=boot).json()["restriction"] == "password_change"

    # The console sends every page but the account page there.
    c.post(f"{API}/auth/login", json={"username": "chief", "password": BOOT, "cookie": True})
    page = c.get("/wall", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account"
    assert c.get("/account", follow_redirects=False).status_code == 200

    same = c.post(f"{API}/auth/password", headers=boot,
                  json={"current_password": BOOT, "new_password": BOOT})
    assert same.status_code == 422 and "differ" in same.json()["detail"]
    assert c.post(f"{API}/auth/password", headers=boot, json={
        "current_password": "not-it", "new_password": "Chief-chose-this-9"}).status_code == 401
    assert c.post(f"{API}/auth/password", headers=boot, json={
        "current_password": BOOT, "new_password": "Chief-chose-this-9"}).status_code == 204

    assert c.get(f"{API}/auth/me", headers=boot).status_code == 401  # every session ended
    assert c.post(f"{API}/auth/login",
                  json={"username": "chief", "password": BOOT}).status_code == 401
    done = login(c, "chief", "Chief-chose-this-9")
    users = c.get(f"{API}/users", headers=done)
    assert users.status_code == 200 and users.json()[0]["must_change_password"] is False


def test_an_admin_can_require_a_new_password_at_next_sign_in(client: TestClient) -> None:
    c = client
    seed_areas(c)
    add_user(c, "admin2", Role.ADMIN)
    officer_id = add_user(c, "officer.yn", Role.OFFICER, ["YN"])
    admin = login(c, "admin2")
    r = c.patch(f"{API}/users/{officer_id}", headers=admin, json={"must_change_password": True})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    first = c.post(f"{API}/auth/login", json={"username": "officer.yn", "password": PASSWORD})
    assert first.json()["restriction"] == "password_change"
    assert c.get(f"{API}/alerts", headers={
        "Authorization": f"Bearer {first.json()['access_token']}"}).status_code == 403
    r = c.patch(f"{API}/users/{officer_id}", headers=admin, json={"must_change_password": None})
    assert r.status_code == 422
