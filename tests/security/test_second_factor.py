"""Two-factor sign-in (TOTP, RFC 6238) with recovery codes: required for admins by
default, optional for the other roles, enrolled from the account page with a QR code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from camera_center.app import create_app
from camera_center.auth.roles import Role
from camera_center.auth.totp import TotpCheck
from camera_center.errors import ACCOUNT_SETUP_PROBLEM
from tests.conftest import PASSWORD, add_user, seed_areas

API = "/api/v1"


class Phone:
    """The authenticator app, on a clock the test moves (the server reads the same
    clock): a code is good once, so each sign-in needs the next half minute's code."""

    def __init__(self) -> None:
        self.t = time.time()

    def code(self, secret: str) -> str:
        self.t += 30
        return str(pyotp.TOTP(secret).at(self.t))


PHONE = Phone()


@pytest.fixture
def client(make_settings) -> Iterator[TestClient]:
    # The shipped default: admins must use a second factor, other roles may.
    settings = make_settings(auth={"second_factor_roles": ["admin"]})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.app.state.services.second_factors.check = TotpCheck(  # type: ignore[attr-defined]
            clock=lambda: PHONE.t)
        seed_areas(c)
        add_user(c, "chief", Role.ADMIN)
        add_user(c, "officer.yn", Role.OFFICER, ["YN"])
        yield c


def password_step(c: TestClient, username: str, password: str = PASSWORD) -> dict:
    r = c.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def enrol(c: TestClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    """Enrol a TOTP key as the console does; returns the key and the recovery codes."""
    key = c.post(f"{API}/auth/second-factor/setup", headers=headers).json()
    r = c.post(f"{API}/auth/second-factor/confirm", headers=headers,
               json={"code": PHONE.code(key["secret"])})
    assert r.status_code == 200, r.text
    return key["secret"], r.json()["recovery_codes"]


def second_step(c: TestClient, challenge: str, **code: str) -> TestClient:
    return c.post(f"{API}/auth/login/second-factor", json={"challenge": challenge, **code})


def test_an_admin_must_enrol_first_and_then_cannot_sign_in_without_the_code(
        client: TestClient) -> None:
    c = client
    first = password_step(c, "chief")
    assert first["restriction"] == "second_factor_enrollment"
    restricted = bearer(first["access_token"])
    for method, path in (("GET", "/cameras"), ("GET", "/users"), ("GET", "/alerts"),
                         ("GET", "/auth/sessions")):
        r = c.request(method, API + path, headers=restricted)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["type"] == ACCOUNT_SETUP_PROBLEM
        assert "second factor" in r.json()["detail"]
    with pytest.raises(WebSocketDisconnect) as closed, c.websocket_connect(
            f"/api/v1/alerts/ws?token={first['access_token']}") as ws:
        ws.receive_json()
    assert closed.value.code == 1008 and "second factor" in closed.value.reason
    assert c.get(f"{API}/auth/me", headers=restricted).json()["restriction"] == \
        "second_factor_enrollment"

    key = c.post(f"{API}/auth/second-factor/setup", headers=restricted).json()
    assert pyotp.parse_uri(key["otpauth_uri"]).secret == key["secret"]
    assert key["qr_code"].startswith("data:image/svg+xml") and key["digits"] == 6
    wrong = f"{(int(PHONE.code(key['secret'])) + 1) % 10**6:06d}"
    r = c.post(f"{API}/auth/second-factor/confirm", headers=restricted, json={"code": wrong})
    assert r.status_code == 422 and "clock" in r.json()["detail"]
    r = c.post(f"{API}/auth/second-factor/confirm", headers=restricted,
               json={"code": PHONE.code(key["secret"])})
    assert r.status_code == 200 and len(r.json()["recovery_codes"]) == 10
    assert c.get(f"{API}/users", headers=restricted).status_code == 200  # this session is done

    # From now on the password alone opens nothing.
    step = password_step(c, "chief")
    assert step["second_factor_required"] is True
    assert set(step) == {"second_factor_required", "challenge", "expires_in", "methods"}
    assert c.get(f"{API}/auth/me", headers=bearer(step["challenge"])).status_code == 401
    assert second_step(c, step["challenge"], code=wrong).status_code == 401
    code = PHONE.code(key["secret"])
    r = second_step(c, step["challenge"], code=code)
    assert r.status_code == 200 and r.json()["restriction"] is None, r.text
    assert c.get(f"{API}/users", headers=bearer(r.json()["access_token"])).status_code == 200
    # The same code again (seen over a shoulder, say) does not open a second session.
    again = password_step(c, "chief")
    assert second_step(c, again["challenge"], code=code).status_code == 401

    audit = c.get(f"{API}/audit", headers=bearer(r.json()["access_token"]),
                  params={"action": "auth.second_factor_enabled"}).json()["items"]
    assert [e["actor"] for e in audit] == ["chief"]


def test_recovery_codes_sign_in_once_each(client: TestClient) -> None:
    c = client
    _, codes = enrol(c, bearer(password_step(c, "chief")["access_token"]))
    step = password_step(c, "chief")
    r = second_step(c, step["challenge"], recovery_code=codes[3].upper())
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert c.get(f"{API}/auth/second-factor", headers=bearer(token)).json() == {
        "enabled": True, "required": True, "enrolling": False, "recovery_codes_left": 9}
    used = second_step(c, password_step(c, "chief")["challenge"], recovery_code=codes[3])
    assert used.status_code == 401 and "already used" in used.json()["detail"]
    # New codes replace the old: the rest of the first set stops working.
    fresh = c.post(f"{API}/auth/second-factor/recovery-codes", headers=bearer(token),
                   json={"current_password": PASSWORD}).json()["recovery_codes"]
    assert second_step(c, password_step(c, "chief")["challenge"],
                       recovery_code=codes[4]).status_code == 401
    assert second_step(c, password_step(c, "chief")["challenge"],
                       recovery_code=fresh[0]).status_code == 200


def test_wrong_codes_count_towards_the_lockout_and_are_audited(client: TestClient) -> None:
    c = client
    secret, _ = enrol(c, bearer(password_step(c, "chief")["access_token"]))
    held = password_step(c, "chief")["challenge"]  # a password step done before the guesses
    for n in range(5):
        r = second_step(c, password_step(c, "chief")["challenge"], code=f"{n:06d}")
        assert r.status_code == 401, r.text
    # Locked now: neither the password nor the right code gets through for the window.
    r = c.post(f"{API}/auth/login", json={"username": "chief", "password": PASSWORD})
    assert r.status_code == 429
    r = second_step(c, held, code=PHONE.code(secret))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    services = c.app.state.services  # type: ignore[attr-defined]
    admin = add_user(c, "deputy", Role.ADMIN)
    assert admin
    headers = bearer(password_step(c, "deputy")["access_token"])
    enrol(c, headers)
    failures = c.get(f"{API}/audit", headers=headers,
                     params={"action": "auth.second_factor_failed"}).json()["items"]
    assert len(failures) == 5 and {e["actor"] for e in failures} == {"chief"}
    assert services.settings.auth.lockout_threshold == 5


def test_an_admin_resets_a_lost_phone_and_the_user_enrols_again(client: TestClient) -> None:
    c = client
    chief_secret, codes = enrol(c, bearer(password_step(c, "chief")["access_token"]))
    admin = bearer(second_step(c, password_step(c, "chief")["challenge"],
                               recovery_code=codes[0]).json()["access_token"])
    # An officer may choose a second factor (not required for the role) and turn it off.
    officer = bearer(password_step(c, "officer.yn")["access_token"])
    assert c.get(f"{API}/alerts", headers=officer).status_code == 200
    enrol(c, officer)
    officer_id = next(u["id"] for u in c.get(f"{API}/users", headers=admin).json()
                      if u["username"] == "officer.yn")
    assert next(u for u in c.get(f"{API}/users", headers=admin).json()
                if u["id"] == officer_id)["second_factor_enabled"] is True

    assert c.delete(f"{API}/users/{officer_id}/second-factor", headers=admin).status_code == 204
    assert c.get(f"{API}/alerts", headers=officer).status_code == 401  # sessions ended
    r = password_step(c, "officer.yn")
    assert "access_token" in r and r["restriction"] is None  # the password alone again
    again = bearer(r["access_token"])
    enrol(c, again)
    assert c.post(f"{API}/auth/second-factor/disable", headers=again,
                  json={"current_password": "wrong-one"}).status_code == 401
    assert c.post(f"{API}/auth/second-factor/disable", headers=again,
                  json={"current_password": PASSWORD}).status_code == 204
    assert "access_token" in password_step(c, "officer.yn")

    # An admin's is required: it cannot be turned off, only reset by another admin.
    r = c.post(f"{API}/auth/second-factor/disable", headers=admin,
               json={"current_password": PASSWORD})
    assert r.status_code == 403 and "cannot be turned off" in r.json()["detail"]
    audit = c.get(f"{API}/audit", headers=admin,
                  params={"action": "user.second_factor_reset"}).json()["items"]
    assert [(e["actor"], e["target_id"]) for e in audit] == [("chief", str(officer_id))]
    # The chief's own key is untouched.
    assert second_step(c, password_step(c, "chief")["challenge"],
                       code=PHONE.code(chief_secret)).status_code == 200


def test_bad_second_factor_requests_get_reasons(client: TestClient) -> None:
    c = client
    step = password_step(c, "officer.yn")
    assert "access_token" in step  # no second factor: no second step
    for body in ({"challenge": "x"}, {"challenge": "x", "code": "12", },
                 {"challenge": "x", "code": "123456", "recovery_code": "abcde-12345"},
                 {"challenge": "x", "code": "１２３４５６"}):
        r = c.post(f"{API}/auth/login/second-factor", json=body)
        assert r.status_code == 422, (body, r.text)
    r = second_step(c, "not-a-challenge", code="123456")
    assert r.status_code == 401 and "password again" in r.json()["detail"]
    # A refresh or access token is not a challenge either.
    r = second_step(c, step["refresh_token"], code="123456")
    assert r.status_code == 401
    token = bearer(step["access_token"])
    assert c.post(f"{API}/auth/second-factor/confirm", headers=token,
                  json={"code": "123456"}).status_code == 409  # nothing being enrolled
